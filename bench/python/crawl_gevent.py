"""The crawl benchmark's gevent competitor: the same breadth-first crawl as examples/crawler.ts
(same origin, robots.txt Disallow prefixes, redirects followed inline, href extraction, JSON lines
to a file), with gevent.pool.Pool, gevent.queue.Queue and one requests.Session.

usage: python3 crawl_gevent.py URL CONCURRENCY MAX_PAGES OUT_FILE
prints one JSON line: {"pages": N, "seconds": S}
"""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from urllib.parse import urldefrag, urljoin, urlsplit  # noqa: E402

import gevent.pool  # noqa: E402
import gevent.queue  # noqa: E402
import requests  # noqa: E402
from requests.adapters import HTTPAdapter  # noqa: E402

INERT = re.compile(r'<!--.*?(?:-->|$)|<(script|style)\b[^>]*>.*?(?:</\1\s*>|$)', re.I | re.S)
TAG = re.compile(r'<(a|area|base)\b([^>]*)>', re.I)
HREF = re.compile(r'''(?:^|\s)href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'<>`]+))''', re.I)


def links_of(html, url):
    found = []
    seen = set()
    for tag, attributes in TAG.findall(INERT.sub(' ', html)):
        match = HREF.search(attributes)
        if not match or tag.lower() == 'base':
            continue
        href = (match.group(1) or match.group(2) or match.group(3) or '').strip().replace('&amp;', '&')
        link = urldefrag(urljoin(url, href))[0]
        if link.startswith(('http://', 'https://')) and link not in seen:
            seen.add(link)
            found.append(link)
    return found


def main():
    start, concurrency, max_pages, out_file = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    origin = '{0.scheme}://{0.netloc}'.format(urlsplit(start))
    session = requests.Session()
    session.mount('http://', HTTPAdapter(pool_connections=4, pool_maxsize=concurrency))
    session.headers['User-Agent'] = 'gevent-crawler/0.1'
    began = time.perf_counter()

    robots = session.get(origin + '/robots.txt', timeout=5)
    disallow = []
    if robots.status_code < 400:
        agent = False
        for line in robots.text.splitlines():
            key, _, value = line.split('#')[0].partition(':')
            key, value = key.strip().lower(), value.strip()
            if key == 'user-agent':
                agent = value == '*'
            elif key == 'disallow' and agent and value:
                disallow.append(value)

    def allowed(url):
        path = urlsplit(url).path
        return not any(path.startswith(prefix) for prefix in disallow)

    queue = gevent.queue.Queue()
    pool = gevent.pool.Pool(concurrency)
    seen = {start}
    out = open(out_file, 'w')
    done = [0]

    def discover(link, depth):
        if link not in seen:
            seen.add(link)
            if link.startswith(origin + '/'):
                queue.put((link, depth))

    def fetch(url, depth):
        record = {'url': url, 'status': None, 'depth': depth, 'bytes': 0, 'links': 0, 'time': 0, 'error': None}
        began_page = time.perf_counter()
        try:
            current = url
            for _ in range(6):
                response = session.get(current, timeout=5, allow_redirects=False)
                record['status'] = response.status_code
                record['bytes'] = len(response.content)
                location = response.headers.get('location')
                if not (300 <= response.status_code < 400 and location):
                    break
                target = urldefrag(urljoin(current, location))[0]
                if target in seen or not target.startswith(origin + '/') or not allowed(target):
                    seen.add(target)
                    break
                seen.add(target)
                current = target
            if response.status_code >= 400:
                record['error'] = 'HTTP %d' % response.status_code
            elif response.status_code < 300 and response.headers.get('content-type', '').startswith('text/html'):
                links = links_of(response.content.decode('utf-8', 'replace'), current)
                record['links'] = len(links)
                for link in links:
                    discover(link, depth + 1)
        except Exception as error:  # noqa: BLE001 - recorded, never fatal
            record['error'] = repr(error)
        record['time'] = round((time.perf_counter() - began_page) * 1000, 1)
        out.write(json.dumps(record) + '\n')
        done[0] += 1

    queue.put((start, 0))
    started = 0
    while started < max_pages:
        if queue.empty():
            pool.join()
            if queue.empty():
                break
        url, depth = queue.get()
        if not allowed(url):
            continue
        pool.spawn(fetch, url, depth)
        started += 1
    pool.join()
    out.close()
    print(json.dumps({'pages': done[0], 'seconds': time.perf_counter() - began}))


if __name__ == '__main__':
    main()
