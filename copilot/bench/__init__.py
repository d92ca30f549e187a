"""Benchmarks behind `copilot bench ...`: timings live here, never in tests."""
