"""The scenarios of Benchmarks/failover (see there). Prints one line per measurement and
the medians; pause figures are wall-clock seconds."""
import json, os, re, signal, statistics, subprocess, sys, tempfile, threading, time, urllib.request
from confluent_kafka import Consumer, TopicPartition

amore, rounds, histories = sys.argv[1], int(sys.argv[2]), [int(h) for h in sys.argv[3:]]
work = tempfile.mkdtemp(prefix="amore-failover.")
children = []
# SIGTERM (a timeout, Ctrl-C from a wrapper) stops the children too, through `finally`.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

def start(args, name):
    out = open(os.path.join(work, name + ".out"), "w+")
    err = open(os.path.join(work, name + ".err"), "w+")
    process = subprocess.Popen([amore] + args, stdout=out, stderr=err)
    process.out_path, process.err_path = out.name, err.name
    children.append(process)
    return process

def wait_line(process, prefix, timeout_s=60):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        for line in open(process.out_path):
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        if process.poll() is not None:
            raise SystemExit(f"failover: {process.args[1]} exited: {open(process.err_path).read()[-2000:]}")
        time.sleep(0.05)
    raise SystemExit(f"failover: no {prefix} from {process.args[1]}")

def metrics(http):
    try:
        text = urllib.request.urlopen(f"http://{http}/metrics", timeout=2).read().decode()
    except Exception:
        return {}
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples

def caught_up(instances, watch, partitions=8, timeout_s=600):
    """Every partition owned, every instance owning some (a joining one has its share),
    lag 0, no pair restoring, and Austin's rankings fresh (a lag gauge reads 0 before its
    first sample, so lag alone would pass a replay)."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        lags, restoring, idle = {}, 0, 0
        for instance in instances:
            samples = metrics(instance.http)
            owned = {k: v for k, v in samples.items() if k.startswith("amore_consumer_lag{")}
            idle += 0 if owned else 1
            lags.update(owned)
            restoring += samples.get("amore_restoring_pairs", 1)
        fresh = bool(watch.fresh) and time.time() - watch.fresh[-1] < 1.5
        if len(lags) == partitions and idle == 0 and all(v == 0 for v in lags.values()) and restoring == 0 and fresh:
            return
        time.sleep(0.2)
    raise SystemExit("failover: instances did not catch up")

def history_done(simulate, timeout_s=900):
    """Until the simulator's progress line shows event time within 10 s of now (live)."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        lines = [l for l in open(simulate.err_path) if "event time" in l]
        if lines:
            clock = re.search(r"event time (\d+):(\d+):(\d+) UTC", lines[-1])
            if clock:
                h, m, s = map(int, clock.groups())
                now = time.gmtime()
                delta = (now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec) - (h * 3600 + m * 60 + s)
                if abs(delta) <= 10:
                    return
        time.sleep(0.5)
    raise SystemExit("failover: the simulator did not reach live time")

def owner_of_austin(instances):
    for instance in instances:
        if metrics(instance.http).get("amore_markets", 0) >= 1:
            return instance
    return None

class RankingWatch:
    """Receipt times of fresh Austin rankings (as-of within FRESH_MS of receipt)."""
    FRESH_MS = 2_000
    def __init__(self, servers, topic):
        self.fresh, self.stop = [], False
        consumer = Consumer({"bootstrap.servers": servers, "group.id": f"watch-{time.time()}", "enable.auto.commit": False,
                             "fetch.wait.max.ms": 25})
        partitions = [TopicPartition(topic, p) for p in range(4)]
        ends = [consumer.get_watermark_offsets(p, timeout=10)[1] for p in partitions]
        consumer.assign([TopicPartition(topic, p, end) for p, end in zip(range(4), ends)])
        def run():
            while not self.stop:
                message = consumer.poll(0.05)
                if message is None or message.error():
                    continue
                received_ms = time.time() * 1000
                document = json.loads(message.value())
                if document.get("market_id") == "austin" and received_ms - document["as_of_ms"] <= self.FRESH_MS:
                    self.fresh.append(received_ms / 1000)
            consumer.close()
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
    def first_after(self, t, timeout_s=300):
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            later = [x for x in self.fresh if x > t]
            if later:
                return later[0] - t
            time.sleep(0.05)
        return float("inf")
    def longest_gap(self, start, end):
        times = [x for x in self.fresh if x <= end]
        before = [x for x in times if x <= start]
        points = ([before[-1]] if before else [start]) + [x for x in times if x > start] + [end]
        return max(b - a for a, b in zip(points, points[1:]))
    def close(self):
        self.stop = True
        self.thread.join()

def engine(servers, prefix, mode, name):
    extra = ["--no-checkpoints"] if mode == "full_replay" else []
    # fetch.wait.max.ms=50: the local broker answers fetches of a partition this large
    # empty within the engine's default 5 ms (EngineSettings.consumerProperties).
    process = start(["run", "--brokers", servers, "--kafka", "session.timeout.ms=2000", "--kafka", "heartbeat.interval.ms=200",
                     "--kafka", "fetch.wait.max.ms=50",
                     "--http", "127.0.0.1:0", "--group", f"{prefix}-{mode}", "--rankings-topic", f"{prefix}.rankings-{mode}",
                     "--dead-letter-topic", f"{prefix}.deadletter-{mode}", "--checkpoints-topic", f"{prefix}.checkpoints-{mode}"]
                    + topics(prefix) + extra + os.environ.get("AMORE_FAILOVER_ENGINE_ARGS", "").split(), f"{name}-{mode}-{prefix}")
    process.http = wait_line(process, "AMORE_HTTP=")
    return process

def topics(prefix):
    return ["--restaurants-topic", f"{prefix}.restaurants", "--orders-topic", f"{prefix}.orders",
            "--couriers-topic", f"{prefix}.couriers"]

def stop(process, sig=signal.SIGKILL):
    if process.poll() is None:
        process.send_signal(sig)
        process.wait(60)

results = {}
def record(h, mode, scenario, value):
    results.setdefault((h, mode, scenario), []).append(value)
    print(f"failover: H={h} min {mode:11} {scenario:9} pause {value:6.2f} s", file=sys.stderr, flush=True)

# AMORE_FAILOVER_BROKERS: a broker started elsewhere (other storage, real Kafka).
servers = os.environ.get("AMORE_FAILOVER_BROKERS")
if not servers:
    broker = start(["broker"], "broker")
    servers = wait_line(broker, "AMORE_BOOTSTRAP_SERVERS=")
try:
    for h in histories:
        for round_ in range(rounds):
            prefix = f"failover-{h}-{round_}-{int(time.time())}"
            simulate = start(["simulate", "--brokers", servers, "--markets", "1", "--history", f"{h}m", "--local-hour", "18.5"]
                             + topics(prefix), f"simulate-{prefix}")
            started = time.time()
            history_done(simulate)
            print(f"failover: H={h} min: history produced in {time.time() - started:.0f} s", file=sys.stderr)
            for mode in os.environ.get("AMORE_FAILOVER_MODES", "checkpoint,full_replay").split(","):
                replay_started = time.time()
                a = engine(servers, prefix, mode, "a")
                time.sleep(1)  # its topics created
                watch = RankingWatch(servers, f"{prefix}.rankings-{mode}")
                caught_up([a], watch)
                print(f"failover: H={h} min {mode}: first instance caught up in {time.time() - replay_started:.1f} s", file=sys.stderr)
                # scale-out
                t0 = time.time()
                b = engine(servers, prefix, mode, "b")
                time.sleep(30)
                record(h, mode, "scale-out", watch.longest_gap(t0, t0 + 30))
                caught_up([a, b], watch)
                # kill the owner; the survivor takes over
                owner = owner_of_austin([a, b]) or b
                survivor = a if owner is b else b
                t0 = time.time()
                stop(owner, signal.SIGKILL)
                record(h, mode, "kill", watch.first_after(t0))
                caught_up([survivor], watch)
                # a replacement joins, then SIGTERM of the owner (scale-in)
                c = engine(servers, prefix, mode, "c")
                caught_up([survivor, c], watch)
                owner = owner_of_austin([survivor, c]) or c
                t0 = time.time()
                stop(owner, signal.SIGTERM)
                time.sleep(20)
                record(h, mode, "scale-in", watch.longest_gap(t0, t0 + 20))
                watch.close()
                for process in [survivor, c]:
                    stop(process, signal.SIGTERM)
            stop(simulate, signal.SIGTERM)
finally:
    for process in children:
        if process.poll() is None:
            process.kill()
    print(f"failover: logs in {work}", file=sys.stderr)

print("\nH (min) | mode | scenario | median pause (s) | runs")
for (h, mode, scenario), values in sorted(results.items()):
    print(f"{h} | {mode} | {scenario} | {statistics.median(values):.2f} | {', '.join(f'{v:.2f}' for v in values)}")
