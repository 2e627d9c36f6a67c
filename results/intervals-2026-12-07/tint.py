"""Re-estimates eff/ceil at 2 workers offline from runs' samples: W per run or per fork, the interval a bootstrap (boot) or t over fork medians (t).
usage: python3 tint.py 'DIR/dot-run*.json' run,fork t"""
import json,glob,sys,itertools,statistics as st,re
import numpy as np
import os
src=open(os.path.join(os.path.dirname(os.path.abspath(__file__)),'est.py')).read().replace("if __name__=='__main__':","if False:")
exec(src)
files=sorted(glob.glob(sys.argv[1]),key=lambda f:int(re.search(r'run(\d+)',f).group(1)))
INTERVAL=sys.argv[3] if len(sys.argv)>3 else 'boot'
modes=sys.argv[2].split(',') if len(sys.argv)>2 else ['run','fork']
for mode in modes:
    res={}
    for f in files:
        r=json.load(open(f))
        rows=[x for x in r['results'] if x.get('samples') and x['samples']['hosts']]
        prods={}
        for x in rows:
            s=x['samples']
            for b,h,fk in zip(s['baseline_s'],s['hosts'],s['fork']):
                key = 0 if mode=='run' else fk
                prods.setdefault(key,[]).append(b*h['alone'])
                prods.setdefault(('cf',x['executor'],x['workers'],fk),[]).append(b*h['alone'])
        Wk={k:st.median(v) for k,v in prods.items()}
        for x in rows:
            if x['workers']!=2: continue
            s=x['samples']
            def Wof(i):
                fk=s['fork'][i]; h=s['hosts'][i]
                if mode=='run': return Wk[0]
                if mode=='fork': return Wk[fk]
                if mode=='round': return s['baseline_s'][i]*h['alone']
                if mode=='cfgfork': return Wk[('cf',x['executor'],x['workers'],fk)]
            P=[perfect([sh*Wof(i) for sh in h['shares']],h['cores']) for i,h in enumerate(s['hosts'])]
            e=[p/w for p,w in zip(P,s['wall_s'])]; c=[b/p for b,p in zip(s['baseline_s'],P)]
            idx=[i for i in range(len(e)) if c[i]>=1.8]
            if len(idx)<30: idx=list(range(len(e)))
            vals=[e[i] for i in idx]; cl=[s['fork'][i] for i in idx]
            if INTERVAL=='boot':
                res.setdefault(x['executor'],[]).append(blocked(vals,cl,res=600))
            else:
                g={}
                for v,k in zip(vals,cl): g.setdefault(k,[]).append(v)
                meds=[float(np.median(v)) for v in g.values() if len(v)>=3]
                m,plo,phi=plain(vals)
                k=len(meds)
                if k>=2:
                    hw=T975[k-2]*float(np.std(meds,ddof=1))/math.sqrt(k)
                    lo,hi=min(m-hw,plo),max(m+hw,phi)
                else: lo,hi=plo,phi
                res.setdefault(x['executor'],[]).append((m,lo,hi))
    out=[]
    for ex,v in res.items():
        meds=[m for m,_,_ in v]; pairs=list(itertools.combinations(v,2))
        ov=sum(1 for a,b in pairs if a[1]<=b[2] and b[1]<=a[2])
        out.append('%s %.3f sp%.3f ov%d/%d hw%.3f'%(ex[:4],st.median(meds),max(meds)-min(meds),ov,len(pairs),st.median([(h-l)/2 for _,l,h in v])))
    print('W per %-5s'%mode,' | '.join(out))
