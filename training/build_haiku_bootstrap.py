"""Build HAiKU's bootstrap field: `python training/build_haiku_bootstrap.py` is `harmonix train haiku`.

The builder lives in the package (``harmonix.lab.training.haiku_bootstrap``); this script is its entry point in a source
checkout.
"""

import sys

from harmonix.lab.training.haiku_bootstrap import main

if __name__ == "__main__":
    main(sys.argv[1:])
