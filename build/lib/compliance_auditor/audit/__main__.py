"""``python -m compliance_auditor.audit``: verify, replay, export and sign off (see `cli.py`)."""

import sys

from compliance_auditor.audit.cli import main

sys.exit(main())
