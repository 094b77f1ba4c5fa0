"""bec-core's file writer: one NeXus/HDF5 master file per scan, in stock BEC's layout."""
