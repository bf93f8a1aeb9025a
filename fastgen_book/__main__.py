import sys

from fastgen_book.cli import main

sys.exit(main())
