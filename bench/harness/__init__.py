"""What benchmarks and tests share: generated webs, counting servers, fault drivers, hostile media.

Here and not under ``tests/`` so that ``bench`` never imports ``tests`` (the tests import
these modules, never the other way round; tests/test_bench.py checks it). Nothing here
is a benchmark or a test itself: ``bigsite`` builds the many-site web and ``counting``
serves it counting requests in flight per site (bench/pipeline_throughput.py, the
distributed tests); ``chaos`` and ``crashloop`` kill stages and writers at random
(bench/reliability.py, tests/reliability); ``hostile_media`` and ``stalling_decoder``
are the files and the decoder seam of the sandbox tests and bench/sandbox.py.
"""
