"""The local stack: the template's resources in moto, the handlers run in-process, a real HTTP front."""

from sluice_local import moto_fixes

moto_fixes.install()
