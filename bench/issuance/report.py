#!/usr/bin/env python3
"""Markdown for the issuance benchmarks (bench/issuance/run.sh records).

Every throughput is also given as a ratio to a reference measured in the
same repetition (sample / reference of the same repetition), summarised as
median (min/max) over the repetitions."""
import statistics
import sys


def load(path):
    recs = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                recs.append(line.split("\t"))
    return recs


def mmm(values, fmt="{:.0f}"):
    if not values:
        return "n/a"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(values))}/{fmt.format(max(values))})"


def ms(us):
    return us / 1000.0


def main():
    recs = load(sys.argv[1])
    meta = {r[1]: r[2:] for r in recs if r[0] == "meta"}
    m = next((r[1:] for r in recs if r[0] == "meta" and r[1] == "secs"), [])
    knobs = dict(zip(m[0::2], m[1::2]))
    quick = knobs.get("quick") == "1"
    w4 = {}
    for r in recs:
        if r[0] == "w4":
            rep, row = int(r[1]), r[2]
            w4.setdefault(row, {})[rep] = [float(x) for x in r[3:]]
    reps = sorted(w4.get("hsm", {}).keys())

    def per_rep(row, col=0):
        return [w4[row][k][col] for k in reps if row in w4 and k in w4[row]]

    def ratio(row, ref):
        return [w4[row][k][0] / w4[ref][k][0] for k in reps
                if row in w4 and ref in w4 and k in w4[row] and k in w4[ref] and w4[ref][k][0] > 0]

    def bound_dpop():
        # 1 / (1 + B / (C * V)): the proof's verification alone on C shared CPUs.
        return [1.0 / (1.0 + w4["basic"][k][0] / (ncpu * w4["esverify"][k][0])) for k in reps
                if "basic" in w4 and "esverify" in w4 and k in w4["basic"] and k in w4["esverify"]
                and w4["esverify"][k][0] > 0]

    floor = next((r for r in recs if r[0] == "floor"), None)
    ver = meta.get("versions", ["-"] * 5)
    mach = meta.get("machine", ["-"] * 5)
    try:
        ncpu = int(mach[0].split()[0])
    except (ValueError, IndexError):
        ncpu = 2
    out = []
    p = out.append
    p("# Issuance benchmarks (workloads 4-6)")
    p("")
    mach = mach + ["-"] * (5 - len(mach))
    p(f"{mach[2]}, commit {mach[3]}; {mach[0]}; load average at the end {mach[1]}; "
      f"run took {mach[4]} s. "
      f"Mode: {'quick (BENCH_QUICK=1)' if quick else 'full'}, {knobs.get('reps', '-')} repetitions "
      f"of {knobs.get('secs', '-')} s per measurement, interleaved; figures are median (min/max).")
    p("")
    p(f"Load: wrk {ver[2]}, 2 threads, {knobs.get('conns', '-')} keep-alive connections on "
      f"loopback. signetd: Release build, `[server] threads = {knobs.get('threads', '-')}`, "
      f"`signers = {knobs.get('signers', '-')}`, per-client rate limit lifted, state and audit "
      f"log on the machine's disk (ext4), log level info to a file. Peer: oidc-provider "
      f"{ver[0]} on node {ver[1]}. SoftHSM2 {ver[3]}, libmicrohttpd {ver[4]}.")
    p("")
    if floor:
        p(f"Disk floor in this run: `fdatasync` of one audit batch takes {ms(float(floor[2])):.1f} ms "
          f"at the median and {ms(float(floor[3])):.1f} ms at p99 (max {ms(float(floor[4])):.1f} ms); "
          "every token waits for one (shared by its batch).")
        p("")

    p("## 4. Issuance end to end (client_credentials)")
    p("")
    p("| row | tokens/s | × HSM ceiling | × HTTP ceiling | × oidc-provider 2 workers | non-200 | socket errors | p50 ms | p99 ms |")
    p("|---|---|---|---|---|---|---|---|---|")
    names = [
        ("hsm", "SoftHSM2 C_Sign ES256, 2 sessions / 2 threads (**reference**: HSM ceiling)"),
        ("http", "libmicrohttpd hello world, epoll + thread pool (**reference**: HTTP ceiling)"),
        ("basic", "**signetd, client_secret_basic**"),
        ("pkjwt", "**signetd, private_key_jwt** (fresh ES256 assertion per request)"),
        ("dpop", "**signetd, DPoP** (client_secret_basic + a fresh ES256 proof per request, server nonce)"),
        ("peer1", "oidc-provider, 1 process"),
        ("peer2", "oidc-provider, node cluster of 2 workers (**peer reference**)"),
    ]
    for row, label in names:
        if row not in w4:
            p(f"| {label} | n/a | | | | | | | |")
            continue
        vals = per_rep(row)
        lat = row not in ("hsm",)
        p("| " + " | ".join([
            label, mmm(vals),
            mmm(ratio(row, "hsm"), "{:.2f}") if row != "hsm" else "1",
            mmm(ratio(row, "http"), "{:.3f}") if row not in ("hsm", "http") else ("1" if row == "http" else ""),
            mmm(ratio(row, "peer2"), "{:.2f}") if row in ("basic", "pkjwt", "dpop", "peer1") else ("1" if row == "peer2" else ""),
            str(int(sum(per_rep(row, 1)))) if lat else "",
            str(int(sum(per_rep(row, 2)))) if lat else "",
            mmm([ms(x) for x in per_rep(row, 3)], "{:.1f}") if lat else "",
            mmm([ms(x) for x in per_rep(row, 4)], "{:.1f}") if lat else "",
        ]) + " |")
    p("")
    if "dpop" in w4 and "basic" in w4:
        p(f"DPoP / client_secret_basic of the same repetition: {mmm(ratio('dpop', 'basic'), '{:.2f}')} "
          "(target ≥ 0.8).")
        bound = bound_dpop()
        if bound:
            p("")
            p(f"Bound of that ratio on this machine: {mmm(bound, '{:.2f}')}. Every process (wrk, signetd, "
              f"the signers, SoftHSM2) shares the {ncpu} CPUs, so a basic token costs about {ncpu}/rate "
              "CPU-seconds; a DPoP token costs that plus at least one ES256 verification of its proof, "
              f"{mmm([1e6 / x for x in per_rep('esverify')], '{:.0f}')} µs on one core here "
              "(`openssl speed ecdsap256`, measured in each repetition). Bound = 1 / (1 + basic rate / "
              f"({ncpu} × verifications per second)), before any parsing, replay cache or nonce work.")
        p("")
    if "half" in w4:
        rates = per_rep("half", 6)
        p("Latency at half the target load (0.25 × the HSM ceiling of the same repetition, "
          "paced by wrk: each connection waits connections/rate between requests):")
        p("")
        p("| row | offered/s | achieved/s | non-200 | p50 ms | p99 ms | p99.9 ms |")
        p("|---|---|---|---|---|---|---|")
        p("| signetd, client_secret_basic | " + " | ".join([
            mmm(rates), mmm(per_rep("half")), str(int(sum(per_rep("half", 1)) + sum(per_rep("half", 2)))),
            mmm([ms(x) for x in per_rep("half", 3)], "{:.1f}"),
            mmm([ms(x) for x in per_rep("half", 4)], "{:.1f}"),
            mmm([ms(x) for x in per_rep("half", 5)], "{:.1f}")]) + " |")
        p("")

    audit = next((r for r in recs if r[0] == "audit"), None)
    # Signatures signetd A made: one per token answer, two for an answer
    # that carries an ID token (the authorization_code grant).
    audit_want = None
    if audit:
        idt = int(audit[6]) if len(audit) > 6 else 0
        audit_want = int(audit[2]) + idt
        extra = ""
        if len(audit) > 7:
            extra = (f"; {audit[7]} of them answered the authorization_code grant, {idt} with an "
                     f"ID token, a second signature each: {audit[2]} + {idt} = {audit_want} "
                     "signatures expected")
        p(f"Audit: signetd A issued {audit[2]} tokens in this run (its `token_issued` log lines; "
          f"warm-up and workload 6 included; wrk received {audit[5] if len(audit) > 5 else '-'} of "
          f"them, the rest were in flight when a run stopped{extra}); its audit log holds {audit[3]} "
          f"`sign` records after a clean stop; `signet audit verify`: {audit[4]}.")
        p("")

    p("## 5. Rotation under load")
    p("")
    w5 = {r[1]: r[2:] for r in recs if r[0] == "w5"}
    if w5:
        p("Half the target load (0.25 × the median HSM ceiling), rotation period 5 s "
          "(`jwks_max_age` 2 s, `clock_skew` 2 s, `allow_short_rotation`), every token handed "
          "to `rot_verify`: libsignet with the issuer's `jwks_uri`, honouring its "
          "`Cache-Control: max-age` (cache bounds 1 s .. 1 day), verifying **every** token as it "
          "arrives. Reference: the same load and verifier against the 24 h-rotation instance.")
        p("")
        p("| run | offered/s | tokens/s | × no-rotation | non-200 | socket errors | p50 ms | p99 ms | verifier | keys activated |")
        p("|---|---|---|---|---|---|---|---|---|---|")
        base = float(w5["norot"][0]) if "norot" in w5 else 0
        for key, label in (("norot", "no rotation (**reference**)"), ("rot", "rotation every 5 s")):
            if key not in w5:
                continue
            v = w5[key]
            p("| " + " | ".join([
                label, v[6], v[0], f"{float(v[0]) / base:.3f}" if base else "n/a", v[1], v[2],
                f"{ms(float(v[3])):.1f}", f"{ms(float(v[4])):.1f}", v[5],
                v[7] if key == "rot" and len(v) > 7 else "-"]) + " |")
        if "rot" in w5 and len(w5["rot"]) > 10:
            v = w5["rot"]
            p("")
            p(f"Audit of the rotation instance: {v[8]} tokens issued, {v[9]} `sign` records, "
              f"`signet audit verify`: {v[10]}.")
        if "rot" in w5 and len(w5["rot"]) > 13:
            v = w5["rot"]
            errs = int(v[1]) + int(v[2])
            p("")
            p(f"Errors of the rotation run: **{errs}** ({v[1]} non-200, statuses seen: {v[11]}; "
              f"{v[2]} socket errors); the front end's sign failures by error: {v[12]}; "
              f"requests sent again to another signer after theirs died: {v[13]}. "
              "Any error fails the run (`bench/issuance/run.sh` exits 1, its log kept as "
              "`rotation-signetd.log`).")
        p("")

    p("## 6. Memory")
    p("")
    mem = {r[1]: r[2:] for r in recs if r[0] == "mem"}
    if "rss10k" in mem and "rssN" in mem:
        a_tok, a_kb = int(mem["rss10k"][0]), int(mem["rss10k"][1])
        b_tok, b_kb = int(mem["rssN"][0]), int(mem["rssN"][1])
        p("| sample | tokens issued | signetd RSS MiB | × RSS at 10k |")
        p("|---|---|---|---|")
        p(f"| after warm-up (**reference**) | {a_tok} | {a_kb / 1024:.1f} | 1 |")
        p(f"| end of run | {b_tok} | {b_kb / 1024:.1f} | {b_kb / a_kb:.3f} |")
        if "signer" in mem and mem["signer"][0]:
            p("")
            p(f"Largest signer process RSS at the end: {int(mem['signer'][0]) / 1024:.1f} MiB.")
        p("")

    people = {}
    for r in recs:
        if r[0] == "people":
            people.setdefault(r[2], {})[int(r[1])] = r[3] if len(r) > 3 else ""
    p("## 7. People: passkey sign-in and the authorization code grant")
    p("")
    if "authcode" not in w4 and "ceremony" not in w4:
        p("n/a (no Python `cryptography` for the software authenticator, or the enrolment failed: "
          "see the run's log).")
        p("")
    else:
        workers = knobs.get("people_workers", "-")
        p("Interleaved with section 4 in the same repetitions, right after its client_secret_basic "
          "row, which is the reference here; same signetd (state A), same machine.")
        p("")
        p("| row | per second | × client_credentials | × HSM ceiling | non-2xx/3xx | socket errors | p50 ms | p99 ms |")
        p("|---|---|---|---|---|---|---|---|")

        def prow(row, label, ratios=True, lat=True):
            if row not in w4:
                p(f"| {label} | n/a | | | | | | |")
                return
            p("| " + " | ".join([
                label, mmm(per_rep(row)),
                "1" if row == "basic" else mmm(ratio(row, "basic"), "{:.3f}") if ratios else "",
                mmm(ratio(row, "hsm"), "{:.3f}") if ratios else "",
                str(int(sum(per_rep(row, 1)))) if lat else "",
                str(int(sum(per_rep(row, 2)))) if lat else "",
                mmm([ms(x) for x in per_rep(row, 3)], "{:.1f}") if lat else "",
                mmm([ms(x) for x in per_rep(row, 4)], "{:.1f}") if lat else "",
            ]) + " |")

        prow("basic", "signetd, client_credentials with client_secret_basic, tokens/s (**reference**)")
        prow("authcode", "**signetd, authorization_code** (public client, PKCE S256, one fresh code per "
             "request), token answers/s: each an access token **and an ID token (2 signatures)** "
             "and a refresh token")
        prow("ceremony", f"**sign-in ceremonies** (POST webauthn/options + POST signin with a fresh "
             f"ES256 assertion → 200 and a session cookie), {workers} driver processes, ceremonies/s")
        prow("driver", f"the ceremony driver alone, no server: {workers} processes making assertions "
             "and /signin bodies, assertions/s (**reference**: driver bound)", ratios=False, lat=False)
        prow("authorize", "(for the codes) GET authorize with a session → 302 with a code, wrk 32 "
             "connections until every code is in, codes/s", lat=False)
        p("")
        if "authcode" in w4:
            sig = [2 * x for x in ratio("authcode", "hsm")]
            p(f"authorization_code / client_credentials of the same repetition: "
              f"{mmm(ratio('authcode', 'basic'), '{:.3f}')}. Each answer costs two signatures (the "
              f"access token and the ID token, two sign records in the audit log), so in signatures "
              f"it runs at {mmm(sig, '{:.3f}')} × the HSM ceiling (client_credentials: "
              f"{mmm(ratio('basic', 'hsm'), '{:.3f}')}); it also consumes the code and writes a "
              "refresh token in the front end's store. Codes per run (minted for one signed-in "
              f"person just before it, each single use, 60 s): {mmm(per_rep('authorize', 6))}; a "
              "request past the last code would be a counted non-200.")
            st = [v for v in people.get("authcode", {}).values() if v]
            if st:
                p(f"Its non-200 statuses: {'; '.join(st)}.")
            p("")
        if "ceremony" in w4:
            p(f"Sign-in ceremonies / client_credentials tokens of the same repetition: "
              f"{mmm(ratio('ceremony', 'basic'), '{:.3f}')}. A ceremony signs nothing with the "
              "HSM: its cost is the front end's (two requests, an ES256 verification of the "
              "assertion, a challenge written and taken, the passkey's counter and the new session "
              "written in the store).")
            p("")
            p(f"Who bounds it: the driver alone makes {mmm(per_rep('driver'))} assertions/s with "
              f"the same {workers} processes, {mmm(ratio('driver', 'ceremony'), '{:.1f}')} × the "
              f"ceremony rate; during the ceremony run the driver used "
              f"{mmm(per_rep('ceremony', 6), '{:.2f}')} CPU-seconds per second (of {ncpu} CPUs), "
              f"{mmm(per_rep('ceremony', 8))} µs of CPU per ceremony, of which "
              f"{mmm(per_rep('ceremony', 7))} µs made the assertion and the /signin body (the rest "
              "is Python's HTTP client). A driver bound would show as a driver rate near the "
              "ceremony rate, or the driver near all CPUs.")
            st = [v for v in people.get("ceremony", {}).values() if v and v != "none"]
            if st:
                p("")
                p(f"Ceremonies that did not end in a session, by status: {'; '.join(st)}.")
            p("")
        srv = {r[1]: (int(r[2]), float(r[3])) for r in recs if r[0] == "srv"}
        if srv:
            p("The front end's own time per request, mean over the whole run (its access log's "
              "`us`, from the request's arrival to its answer; warm-up and every run included; "
              "a token request's includes its wait for the signer and the audit commit):")
            p("")
            p("| request | requests | mean ms |")
            p("|---|---|---|")
            for k, label in (("token_basic", "POST token, client_credentials (client_secret_basic)"),
                             ("token_authcode", "POST token, authorization_code"),
                             ("authorize", "GET authorize with a session (→ 302 with a code)"),
                             ("options", "POST webauthn/options (sign-in challenge)"),
                             ("signin", "POST signin (assertion → session)")):
                if k in srv:
                    p(f"| {label} | {srv[k][0]} | {srv[k][1] / 1000:.2f} |")
            p("")

    p("## Targets")
    p("")
    p("| target | measured | holds |")
    p("|---|---|---|")

    def line(name, measured, ok):
        p(f"| {name} | {measured} | {'yes' if ok else '**no**'} |")

    rb = ratio("basic", "hsm")
    if rb:
        line("signetd (client_secret_basic) ≥ 0.5 × HSM ceiling", mmm(rb, "{:.2f}"), statistics.median(rb) >= 0.5)
    rp = ratio("basic", "peer2")
    if rp:
        line("signetd ≥ 3 × oidc-provider (2 workers)", mmm(rp, "{:.2f}"), statistics.median(rp) >= 3)
    rk = ratio("pkjwt", "hsm")
    if rk:
        line("signetd (private_key_jwt) ≥ 0.5 × HSM ceiling", mmm(rk, "{:.2f}"), statistics.median(rk) >= 0.5)
    rk2 = ratio("pkjwt", "peer2")
    if rk2:
        line("signetd (private_key_jwt) ≥ 3 × oidc-provider (2 workers)", mmm(rk2, "{:.2f}"), statistics.median(rk2) >= 3)
    rd = ratio("dpop", "basic")
    if rd:
        bd = bound_dpop()
        why = f" (bound by the proof's verification on this machine: {mmm(bd, '{:.2f}')})" if bd else ""
        line("signetd, DPoP ≥ 0.8 × client_secret_basic (issue 12)", mmm(rd, "{:.2f}") + why,
             statistics.median(rd) >= 0.8)
    if "half" in w4:
        p99 = [ms(x) for x in per_rep("half", 4)]
        line("p99 latency at half the target load < 5 ms", mmm(p99, "{:.1f}") + " ms", statistics.median(p99) < 5)
    errs = sum(sum(per_rep(r, 1)) + sum(per_rep(r, 2))
               for r in ("basic", "pkjwt", "dpop", "half", "authcode", "ceremony", "authorize") if r in w4)
    line("zero errors (non-200 + socket errors), workload 4 and the people rows", str(int(errs)), errs == 0)
    if audit:
        line("audit `sign` records = tokens issued + ID tokens, chain verifies",
             f"{audit[3]} / {audit_want}, {audit[4]}", int(audit[3]) == audit_want and audit[4] == "ok")
    if "rot" in w5 and "norot" in w5:
        v, b = w5["rot"], w5["norot"]
        errs5 = int(v[1]) + int(v[2])
        why5 = f" (statuses {v[11]}; sign failures {v[12]})" if errs5 and len(v) > 13 else ""
        line("rotation: zero errors (non-200 + socket errors)", f"{errs5}{why5}", errs5 == 0)
        vf = v[5]
        failed = vf.split("failed ")[1].split()[0] if "failed " in vf else "?"
        line("rotation: zero verification failures (every token verified)", vf, failed == "0")
        rr = float(v[0]) / float(b[0]) if float(b[0]) else 0
        line("rotation: throughput within 10 % of no-rotation", f"{rr:.3f}", rr >= 0.9)
        if len(v) > 10:
            line("rotation instance: audit records = tokens, chain verifies", f"{v[9]} / {v[8]}, {v[10]}",
                 v[8] == v[9] and v[10] == "ok")
    if "rss10k" in mem and "rssN" in mem:
        a_kb, b_kb, b_tok = int(mem["rss10k"][1]), int(mem["rssN"][1]), int(mem["rssN"][0])
        want = 100000 if quick else 1000000
        reached = "" if b_tok >= want else f" (only {b_tok} of {want} tokens within the time cap)"
        line(f"RSS after {want // 1000}k tokens within 10 % of RSS after 10k", f"{b_kb / a_kb:.3f}{reached}",
             b_kb <= 1.1 * a_kb and b_tok >= want)
    p("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
