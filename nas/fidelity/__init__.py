"""python -m nas.fidelity: proxy fidelity studies (rank agreement between budgets, zero-cost
proxies)."""
