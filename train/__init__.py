"""Training scripts: ``python -m train.<model>``; ``python -m train.all`` trains all four."""
