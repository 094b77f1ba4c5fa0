"""bec-core benchmarks: each module prints a table with its reference measured in the same run."""
