import json,sys,glob,itertools,statistics,random,math
import numpy as np
T975=[12.706,4.303,3.182,2.776,2.571,2.447,2.365,2.306,2.262,2.228,2.201,2.179,2.160,2.145,2.131,2.120,2.110,2.101,2.093,2.086,2.080,2.074,2.069,2.064,2.060,2.056,2.052,2.048,2.045,2.042]
def widen(b):
    df=max(b,2)-1; t=T975[df-1] if df<=30 else 1.96
    return math.sqrt(b/df)*t/1.96
def plain(x):
    s=sorted(x); n=len(s)
    # order-statistic interval, binomial
    from math import comb
    med=float(np.median(s))
    # find j: largest with P(Bin(n,.5) < j) <= .025
    j=None; c=0.0
    for k in range(n+1):
        p=comb(n,k)/2**n
        if c+p>0.025: j=k; break
        c+=p
    if j is None or j<1: return med,s[0],s[-1]
    return med,s[j-1],s[n-j]
def blocked(vals,blocks,maxc=10,res=1000,seed=1):
    groups={}
    for v,b in zip(vals,blocks): groups.setdefault(b,[]).append(v)
    g=[groups[k] for k in sorted(groups)]
    m,plo,phi=plain(vals)
    B=len(g)
    if B<2: return m,plo,phi
    if B>maxc:
        pooled=[[] for _ in range(maxc)]
        for i,x in enumerate(g): pooled[i*maxc//B].extend(x)
        g=pooled; B=maxc
    rng=np.random.default_rng(seed)
    st=[]
    for _ in range(res):
        idx=rng.integers(0,B,B)
        st.append(np.median(np.concatenate([g[i] for i in idx])))
    st=np.sort(st); w=widen(B)
    lo=m-max(m-np.quantile(st,.025),0)*w; hi=m+max(np.quantile(st,.975)-m,0)*w
    return m,min(lo,plo),max(hi,phi)
def load(files):
    data={}
    for f in files:
        r=json.load(open(f))
        for x in r['results']:
            if x['workers']!=2 or not x.get('samples'): continue
            s=x['samples']
            data.setdefault(x['executor'],[]).append((f,x,s))
    return data
def effs(s):
    return [b/c/w for b,w,c in zip(s['baseline_s'],s['wall_s'],s['ceiling'])]
def E0(x,s,share=0.9,maxc=10,minfull=6,minblocks=3):
    e=effs(s); c=s['ceiling']; bl=s['block']
    full=[(v,b) for v,cc,b in zip(e,c,bl) if cc>=share*2]
    if len(full)<minfull or len(set(b for _,b in full))<minblocks:
        return blocked(e,bl,maxc)
    return blocked([v for v,_ in full],[b for _,b in full],maxc)
def evaluate(data,est,name):
    print('==',name)
    for ex,runs in data.items():
        r=[est(x,s) for f,x,s in runs]
        meds=[m for m,_,_ in r]
        pairs=list(itertools.combinations(r,2))
        ov=sum(1 for a,b in pairs if a[1]<=b[2] and b[1]<=a[2])
        hw=statistics.median([(h-l)/2 for _,l,h in r])
        print(f"  {ex:8} med={statistics.median(meds):.3f} span={max(meds)-min(meds):.3f} overlap={ov}/{len(pairs)} halfw={hw:.3f}  "+' '.join(f"{m:.3f}" for m in meds))
if __name__=='__main__':
    data=load(sys.argv[1:])
    evaluate(data,lambda x,s:(x['efficiency_vs_ceiling']['median'],x['efficiency_vs_ceiling']['lo'],x['efficiency_vs_ceiling']['hi']),'reported')
    evaluate(data,E0,'E0 reimpl')

def anova(data):
    # per executor: between-run var of run means of block-medians vs within-run var
    for ex,runs in data.items():
        runmeds=[];within=[]
        for f,x,s in runs:
            e=effs(s); c=s['ceiling']
            bm={}
            for v,cc,b in zip(e,c,s['block']):
                if cc>=1.8: bm.setdefault(b,[]).append(v)
            meds=[np.median(v) for v in bm.values()]
            runmeds.append((np.mean(meds),np.var(meds,ddof=1)/len(meds),len(meds)))
        m=[a for a,_,_ in runmeds]; se2=np.mean([b for _,b,_ in runmeds])
        tot=np.var(m,ddof=1)
        print(f"  {ex:8} between-run var of means {tot:.2e} (sd {tot**.5:.4f}); expected from within {se2:.2e} (sd {se2**.5:.4f}); excess sd {max(tot-se2,0)**.5:.4f}")

def perfect(work, cores):
    cs=[(d,r) for d,r in cores if r>0 and math.isfinite(r)]
    free=[max(d,0) for d,_ in cs]
    for w in work:
        k=min(range(len(cs)),key=lambda k: free[k]+w/cs[k][1])
        free[k]=free[k]+w/cs[k][1]
    return max(free)
def effs_work(s, mode='run'):
    """per-round eff/ceil and ceiling with the work estimated per run ('run'), per block ('block') or per round ('round')"""
    b=s['baseline_s']; w=s['wall_s']; H=s['hosts']; bl=s['block']
    prod=[bb*h['alone'] for bb,h in zip(b,H)]
    if mode=='run':
        W=[np.median(prod)]*len(b)
    elif mode=='block':
        per={}
        for p,k in zip(prod,bl): per.setdefault(k,[]).append(p)
        W=[np.median(per[k]) for k in bl]
    else:
        W=prod
    P=[perfect([sh*Wi for sh in h['shares']],h['cores']) for Wi,h in zip(W,H)]
    return [p/ww for p,ww in zip(P,w)],[bb/p for bb,p in zip(b,P)]
def Ework(mode,share=0.9,maxc=10):
    def f(x,s):
        e,c=effs_work(s,mode); bl=s['block']
        full=[(v,b) for v,cc,b in zip(e,c,bl) if cc>=share*2]
        if len(full)<6 or len(set(b for _,b in full))<3:
            return blocked(e,bl,maxc)
        return blocked([v for v,_ in full],[b for _,b in full],maxc)
    return f

def Etime(L,share=0.9,maxc=10,mode='run'):
    """clusters = time windows of L seconds (rounds' at_s)"""
    def f(x,s):
        if mode=='run':
            e=effs(s); c=s['ceiling']
        else:
            e,c=effs_work(s,mode)
        t=s['at_s']; cl=[int(tt//L) for tt in t]
        full=[(v,b) for v,cc,b in zip(e,c,cl) if cc>=share*2]
        if len(full)<6 or len(set(b for _,b in full))<1:
            return blocked(e,cl,maxc)
        return blocked([v for v,_ in full],[b for _,b in full],maxc)
    return f

def Eblockfilter(share=0.9,maxc=10,L=None,stat=np.median):
    def f(x,s):
        e=effs(s); c=s['ceiling']; bl=s['block']
        bc={}
        for cc,b in zip(c,bl): bc.setdefault(b,[]).append(cc)
        good={b for b,v in bc.items() if stat(v)>=share*2}
        cl=bl if L is None else [int(t//L) for t in s['at_s']]
        kept=[(v,k) for v,b,k in zip(e,bl,cl) if b in good]
        if len(good)<3:
            return blocked(e,cl,maxc)
        return blocked([v for v,_ in kept],[k for _,k in kept],maxc)
    return f
