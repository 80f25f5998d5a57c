"""Writing a job's result files in steps: what one step hands the next.

A job's result files (succeeded / failed / unprocessed CSVs; one set per file in a job of several) are written
from its chunks' result parts, in chunk order. The invocation that settles a job writes them itself when the job
has at most `ResultStepChunks` chunks; a bigger job's are written by a chain of steps on the IngestQueue, each
reading at most that many chunks' parts, so no invocation's timeout bounds a job.

A step writes, per result file, one object of what it read (after the bytes the step before carried to it): a
*segment* when it holds at least 64 MiB (S3's smallest multipart part is 5 MiB), else a *carry* that the next
step writes first.
When a file's last chunk is read, its result files are joined from the segments by server-side part copies.

The state step k starts from is written before the job moves on to step k. The objects a step writes are named
by the chunks they hold and by the copy of the step that wrote them, and each copy stores a state naming its own
objects, written before it: whichever copy's state the next step reads is whole. A step delivered twice (or two
copies at once) writes the same bytes."""

from __future__ import annotations

from pydantic import BaseModel, Field

from sluice.models.continuations import Continuation, StoredState


class Segment(BaseModel):
    """An object holding one stretch of a result file (named by the chunks it holds)."""

    key: str
    size: int


class ResultFileProgress(BaseModel):
    """One result file of the file being written, as far as the steps so far got."""

    segments: list[Segment] = Field(default_factory=list)  # in order, each big enough to be a part
    carry: Segment | None = None  # too small to be one: the next step writes it first


class ResultAssembly(StoredState):
    """What step `step` of a job's result-file chain starts from."""

    step: int
    stepChunks: int  # chunks one step reads, fixed when the chain starts
    span: int = 0  # the job's file whose result files are being written (0 for a job of one file)
    chunk: int = 0  # the next chunk to read
    files: dict[str, ResultFileProgress] = Field(default_factory=dict)  # result kind -> progress (current span)


class ResultStepMessage(Continuation):
    """The continuation on the IngestQueue: write step `step` of this job's result files (its state is stored)."""

    KEY = "resultStep"

    step: int
