"""`python -m coalmine.demo`: run the demo service, configured by environment variables."""

import sys

from coalmine.demo.server import main

sys.exit(main())
