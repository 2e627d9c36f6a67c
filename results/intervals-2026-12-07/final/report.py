"""The tables of ten runs: python3 report.py [DIR] (default: this file's directory)."""
import json,glob,itertools,statistics as st,os,re,sys
O=sys.argv[1] if len(sys.argv)>1 else os.path.dirname(os.path.abspath(__file__))
def files(prefix):
    fs=glob.glob(f'{O}/{prefix}-run*.json')
    return sorted(fs,key=lambda f:int(re.search(r'run(\d+)',f).group(1)))
def two(wl):
    data={}
    notes=[]
    for f in files(wl):
        r=json.load(open(f)); notes.append(r['machine'].get('note'))
        for x in r['results']:
            if x['workers']!=2: continue
            e=x['efficiency_vs_ceiling']
            data.setdefault(x['executor'],[]).append((e['median'],e['lo'],e['hi'],x['rounds']))
    return data,notes
times={}
for l in open(f'{O}/times.txt'):
    # Two formats: "NAME rc=RC parbench SECONDS s" and "WORKLOAD runN SECONDS s".
    m=re.match(r'(\S+) rc=(\d+) (?:parbench )?([\d.]+) s',l) or re.match(r'(\S+) (run\d+)() ([\d.]+) s',l)
    if m and m.lastindex==3: times[m.group(1)]=(int(m.group(2)),float(m.group(3)))
    elif m: times[m.group(1)+'-'+m.group(2)]=(0,float(m.group(4)))
for wl in ['cpu','dot']:
    data,notes=two(wl)
    n=len(notes)
    ts=[times[k][1] for k in times if k.startswith(wl+"-run")] or [0]
    pct=', '.join(re.search('in ([0-9]+%)',x).group(1) for x in notes if x)
    print(f"### {wl}: {n} runs, {min(ts):.0f}-{max(ts):.0f} s each, host notes: {sum(1 for x in notes if x)} of {n} runs ({pct})")
    print('| executor | medians of eff/ceil at 2 workers | span (<= 0.06) | pairs that overlap (>= 43 of 45) | median of the ten |')
    print('|---|---|---|---|---|')
    for ex,v in data.items():
        meds=[m for m,_,_,_ in v]; pairs=list(itertools.combinations(v,2))
        ov=sum(1 for a,b in pairs if a[1]<=b[2] and b[1]<=a[2])
        print(f'| {ex} | {min(meds):.3f}-{max(meds):.3f} | {max(meds)-min(meds):.3f} | {ov} of {len(pairs)} | {st.median(meds):.3f} |')
    print('per run:')
    for ex,v in data.items():
        print(f"  {ex}: "+', '.join(f"{m:.3f} [{l:.3f}-{h:.3f}]" for m,l,h,_ in v))
# composition
def async2(prefix):
    out=[]
    for f in files(prefix):
        r=json.load(open(f))
        for x in r['results']:
            if x['workers']==2 and x['executor']=='async':
                e=x['efficiency_vs_ceiling']; out.append(e['median'])
    return out
a=async2('async-alone'); s=async2('cpu')[:3]
if a: print(f"\ncomposition: alone {a} median {st.median(a):.3f}; sweep (cpu runs 1-3) {s} median {st.median(s):.3f}; diff {abs(st.median(a)-st.median(s)):.3f}")
for k,v in times.items():
    if not k.startswith(('cpu-','dot-')): print(k,v)
