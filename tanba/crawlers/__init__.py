"""Tanba's crawlers: a Scrapy project that finds media on public websites.

Contract: :func:`tanba.crawlers.runner.crawl` crawls the targets of a targets file
(:mod:`tanba.core.targets`, parsed in the core so that the console
and the command line need no Scrapy to read one) and publishes one ``MediaDiscovered`` event per media
file found on a page to the ``tanba.media`` topic, with the bytes in the blob
store and the raw exchanges in a WARC file under ``home/captures``.

Scrapy's shape: the spider (:mod:`tanba.crawlers.spiders.site`) finds pages and
media (links, frontier, budgets, traps, depth) and yields one item per page;
the item pipelines (:mod:`tanba.crawlers.pipelines`) fetch the players the page
embeds, capture the page, download and store each media URL once per crawl (a
stream's manifest: sampled segments joined into one file, :mod:`tanba.crawlers.streams`),
and publish the events. Targets with ``render: true`` also have their pages
rendered in headless Chromium (:mod:`tanba.crawlers.render`).

Why a package of small modules: extraction, URL canonicalisation, the
address guard and the WARC writer are pure and tested on their own; the
spider, the pipelines and :mod:`tanba.crawlers.runner` need Twisted. Nothing here
imports Scrapy at package import time, so loading targets stays cheap.
"""
