"""Scrapy spiders of the crawler; :mod:`crawlers.spiders.site` crawls one target's site."""
