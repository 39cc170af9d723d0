"""The audit: case outcomes turned into rates with intervals, by group and stratum."""
