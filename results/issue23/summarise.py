"""Prints, per result of a parbench JSON file: speedup, eff/ceil, wall, worker idle and the gaps between a worker's tasks."""
import json,sys
for f in sys.argv[1:]:
    d=json.load(open(f)); print('==',f)
    for r in d['results']:
        rec=r.get('records') or []
        gaps={}
        byw={}
        for t in sorted(rec,key=lambda t:t['start_s']): byw.setdefault(t['worker'],[]).append(t)
        g=[]
        for w,ts in sorted(byw.items()):
            g.append(','.join('%.2f'%((b['start_s']-a['stop_s'])*1e3) for a,b in zip(ts,ts[1:])))
        e=r['efficiency_vs_ceiling']; s=r['speedup']
        idle=r['counters'].get('worker_idle_s')
        print('%-8s %-7s W=%d speedup %.3f [%.3f-%.3f] eff/ceil %.3f [%.3f-%.3f] wall %.2f ms idle(ms) %s gaps(ms) %s'%(r['workload'],r['executor'],r['workers'],s['median'],s['lo'],s['hi'],e['median'],e['lo'],e['hi'],r['wall_s']['median']*1e3,[round(x*1e3,2) for x in idle] if idle else None,' | '.join(g)))
