"""`python -m compliance_auditor.procedures`: see cli.py."""

import sys

from compliance_auditor.procedures.cli import main, worker

if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"] and len(sys.argv) == 3:
        raise SystemExit(worker(sys.argv[2]))
    raise SystemExit(main())
