"""Publishing a fully written folder in place of an older one, never leaving a half state."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def swap_into_place(staged: Path, dest: Path) -> Path:
    """Move `staged` to `dest`; an existing `dest` is renamed aside first and then removed.

    Both renames stay on one filesystem (callers stage beside `dest`), so a reader sees the
    old folder or the new one, never a mixture.
    """
    if dest.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{dest.name}.retired-", dir=dest.parent))
        dest.replace(retired / dest.name)
        staged.replace(dest)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staged.replace(dest)
    return dest


@contextmanager
def staged_folder(dest: Path, *, overwrite: bool, purpose: str) -> Iterator[Path]:
    """A temporary folder beside `dest` to write into; it replaces `dest` when the block ends.

    An error inside the block removes it and leaves `dest` as it was. A non-empty `dest` is refused
    unless `overwrite`.
    """
    if dest.exists() and any(dest.iterdir()) and not overwrite:
        raise FileExistsError(f"{dest} exists and is not empty (use --overwrite)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.{purpose}-", dir=dest.parent))
    try:
        yield tmp
        swap_into_place(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
