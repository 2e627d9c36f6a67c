import json,glob,sys,itertools,statistics as st
src=open('/tmp/pb20/est.py').read().replace("if __name__=='__main__':","if False:")
exec(src)
d=sys.argv[1]; wl=sys.argv[2] if len(sys.argv)>2 else 'cpu'
files=sorted(glob.glob(f'{d}/{wl}-run*.json'),key=lambda f:int(f.split('run')[-1].split('.')[0]))
res={}
for f in files:
    r=json.load(open(f))
    rows=[x for x in r['results'] if x.get('samples') and x['samples']['hosts']]
    prods=[b*h['alone'] for x in rows for b,h in zip(x['samples']['baseline_s'],x['samples']['hosts'])]
    W=st.median(prods)
    for x in rows:
        if x['workers']!=2: continue
        s=x['samples']
        P=[perfect([sh*W for sh in h['shares']],h['cores']) for h in s['hosts']]
        e=[p/w for p,w in zip(P,s['wall_s'])]; c=[b/p for b,p in zip(s['baseline_s'],P)]
        cl=s.get('fork') or s['block']
        full=[(v,k) for v,cc,k in zip(e,c,cl) if cc>=1.8]
        est=blocked([v for v,_ in full],[k for _,k in full])
        res.setdefault(x['executor'],[]).append(est)
for ex,v in res.items():
    meds=[m for m,_,_ in v]; pairs=list(itertools.combinations(v,2))
    ov=sum(1 for a,b in pairs if a[1]<=b[2] and b[1]<=a[2])
    print(f"{ex:8} {min(meds):.3f}-{max(meds):.3f} span {max(meds)-min(meds):.3f} overlap {ov}/{len(pairs)} halfw {st.median([(h-l)/2 for _,l,h in v]):.3f}")
