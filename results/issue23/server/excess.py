"""Per-task time above the latency (median, us) per configuration, from a run's task records,
and api vs sleep wall medians at W=8: python3 excess.py FILE..."""
import json, statistics, sys
for f in sys.argv[1:]:
    d = json.load(open(f))
    lat = None
    line = []
    wall = {}
    for r in d['results']:
        key = (r['workload'], r['executor'], r['workers'])
        wall[key] = r['wall_s']['median']
        # ideal_s = ceil(tasks/workers) * latency
        per = r['ideal_s'] / -(-r['tasks'] // r['workers'])
        ex = [(t['stop_s'] - t['start_s'] - per) * 1e6 for t in r['records']]
        line.append('%s/%s/%d %.0f' % (key[0], key[1], key[2], statistics.median(ex)))
    pct = []
    for e in ['pool', 'threads']:
        a, s = wall.get(('api', e, 8)), wall.get(('sleep', e, 8))
        if a and s:
            pct.append('%s %.1f vs %.1f ms %+.2f%%' % (e, a * 1e3, s * 1e3, (a / s - 1) * 100))
    print(f)
    print('  per-task excess us:', ', '.join(line))
    print('  api vs sleep at W=8:', '; '.join(pct))
