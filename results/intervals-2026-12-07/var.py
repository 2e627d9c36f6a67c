import json,glob,sys,numpy as np
L=float(sys.argv[2]) if len(sys.argv)>2 else 5
files=sorted(glob.glob(sys.argv[1]+'/cpu-run*.json'))
acc={}
for f in files:
    r=json.load(open(f))
    for x in r['results']:
        if x['workers']!=2: continue
        s=x['samples']; b=np.array(s['baseline_s']); w=np.array(s['wall_s']); c=np.array(s['ceiling'])
        e=b/c/w; full=c>=1.8
        win=(np.array(s['at_s'])//L).astype(int)
        meds=[np.median(e[full&(win==k)]) for k in sorted(set(win[full]))]
        acc.setdefault(x['executor'],[]).append((np.median(e[full]),meds))
for ex,v in acc.items():
    runmeds=[m for m,_ in v]
    within=[np.std(ms,ddof=1) for _,ms in v if len(ms)>1]
    W=np.mean([len(ms) for _,ms in v])
    print(f"{ex:8} between-run sd {np.std(runmeds,ddof=1):.4f}  within-run window sd {np.median(within):.4f}  W~{W:.1f} -> sd/sqrtW {np.median(within)/np.sqrt(W):.4f}")
