import json,sys,glob,itertools,statistics
# usage: eval.py FILES... ; per executor at 2 workers: medians, span, overlapping pairs
files=sys.argv[1:]
data={}
for f in files:
    r=json.load(open(f))
    for x in r['results']:
        if x['workers']!=2: continue
        wl=x['workload']
        e=x['efficiency_vs_ceiling']
        data.setdefault((wl,x['executor']),[]).append((e['median'],e['lo'],e['hi'],x['rounds'],x['blocks']))
for k,v in data.items():
    meds=[m for m,_,_,_,_ in v]
    pairs=list(itertools.combinations(v,2))
    ov=sum(1 for a,b in pairs if a[1]<=b[2] and b[1]<=a[2])
    print(f"{k[0]:4} {k[1]:8} n={len(v)} med-of-meds={statistics.median(meds):.3f} range={min(meds):.3f}-{max(meds):.3f} span={max(meds)-min(meds):.3f} overlap={ov}/{len(pairs)} rounds={[x[3] for x in v]}")
