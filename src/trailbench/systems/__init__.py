"""Systems under test: reference reconstructions and the contract any plug-in follows."""
