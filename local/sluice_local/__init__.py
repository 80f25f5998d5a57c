"""The local stack: the template's resources in moto, the handlers run in-process, a real HTTP front."""
