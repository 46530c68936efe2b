"""python -m nnviz train | eval | download"""
import sys

from nnviz.cli import main

if __name__ == "__main__":
    sys.exit(main())
