"""api vs sleep at W=8 per executor, from one run of -w api,sleep: median wall and its excess."""
import json,sys
for f in sys.argv[1:]:
    d=json.load(open(f)); w={}
    for r in d['results']:
        w[(r['workload'],r['executor'],r['workers'])]=r['wall_s']
    out=[]
    for e in ['pool','threads']:
        a=w[('api',e,8)]; s=w[('sleep',e,8)]
        out.append('%s api %.1f [%.1f-%.1f] sleep %.1f [%.1f-%.1f] %+.1f%%'%(e,a['median']*1e3,a['min']*1e3,a['max']*1e3,s['median']*1e3,s['min']*1e3,s['max']*1e3,(a['median']/s['median']-1)*100))
    print(f,'; '.join(out))
