"""Online experiments on the data plane: arm assignment and homepage records (API), attribution (event service)."""
