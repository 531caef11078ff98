import json, os, subprocess, sys, time
trace, cmd = sys.argv[1], sys.argv[2:]
open(trace, "w").close()
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
line = p.stdout.readline(); t1 = time.monotonic()
p.stdout.read(); err = p.stderr.read(); p.wait(); t2 = time.monotonic()
time.sleep(0.3)
ev = [json.loads(l) for l in open(trace)]
print(f"spawn 0  result {1000*(t1-t0):.1f}  exit {1000*(t2-t0):.1f}  rc {p.returncode}")
rows = []
for e in ev:
    if "event" in e:
        rows.append((e["t"], f"c{e['conn']} {e['event']}"))
    else:
        rows.append((e["got"], f"c{e['conn']} {e['dir']:4} got  {e['bytes']:5}B {e['head'][:50]!r}"))
for t, s in sorted(rows):
    print(f"{1000*(t-t0):8.1f}  {s}")
if "-v" in os.environ.get("SHOWERR",""): print(err.decode()[-3000:])
