"""Train Sonnet's char-transformer: `python training/train_sonnet.py [options]` is `harmonix train sonnet [options]`.

The trainer lives in the package (``harmonix.lab.training.sonnet``) so that it works wherever Harmonix is installed;
this script is its entry point in a source checkout. Needs the ``train`` extra (torch, matplotlib).
"""

import sys

from harmonix.lab.training.sonnet import main

if __name__ == "__main__":
    main(sys.argv[1:])
