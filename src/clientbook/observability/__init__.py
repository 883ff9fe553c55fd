"""What an operator sees: JSON log lines (`logs`) and Prometheus metrics (`metrics`)."""
