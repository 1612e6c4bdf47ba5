"""Print the requirements of pyproject.toml's base plus one extra, one per line (Dockerfile helper).

The images install their dependencies from these lines before the project's source is copied,
so a change to the source rebuilds only the last layer (`pip install --no-deps`), not the venv.
Usage: python3 requirements.py PYPROJECT EXTRA
"""

import sys
import tomllib
from pathlib import Path

project = tomllib.loads(Path(sys.argv[1]).read_text())["project"]
print("\n".join([*project["dependencies"], *project["optional-dependencies"][sys.argv[2]]]))
