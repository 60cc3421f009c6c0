"""Scrapy spiders of the crawler; :mod:`tanba.crawlers.spiders.site` crawls one target's site."""
