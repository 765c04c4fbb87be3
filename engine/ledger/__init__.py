"""The ledger (台账) as people hand it around: Excel import and export, and the demo data."""
