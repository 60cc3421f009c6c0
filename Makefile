# Benchmarks (not tests): they print Tanba's figures beside the baselines in one run.
.PHONY: bench-quality bench-speed

bench-quality:
	$(MAKE) -C bench bench-quality

bench-speed:
	$(MAKE) -C bench bench-speed
