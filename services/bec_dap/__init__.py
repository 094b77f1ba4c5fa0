"""bec-dap: the data processing (DAP) service; lmfit fits of scan data, stock BEC's DAP protocol."""
