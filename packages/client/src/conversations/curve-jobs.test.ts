import {
  getPublicKey,
  initSecp256k1,
  randomPrivateKey,
  secp256k1Backend,
  signCompact,
} from "@xmtp-ts/protocol";
import { expect, test } from "vitest";
import {
  type CurveJob,
  packJobs,
  packResults,
  runCurveJob,
  unpackJobs,
  unpackResults,
} from "./curve-jobs.js";
import { sha256 } from "./primitives.js";

test("jobs and results survive packing for a worker; odd lengths stay on this thread", async () => {
  await initSecp256k1();
  const k = () => randomPrivateKey();
  const [a, b, c] = [k(), k(), k()];
  const digest = sha256(new Uint8Array([1, 2, 3]));
  const sig = signCompact(a, digest);
  const jobs: CurveJob[] = [
    {
      ecdh: [
        [a, getPublicKey(b)],
        [c, getPublicKey(a)],
      ],
      verify: [
        [getPublicKey(a), digest, sig.bytes],
        [getPublicKey(b), digest, sig.bytes],
      ],
      recover: [digest, sig.bytes, sig.recovery],
    },
    { ecdh: [], verify: [[getPublicKey(a), digest, sig.bytes]] },
    // A point not on the curve: the ECDH fails, the job still answers.
    { ecdh: [[a, new Uint8Array(65).fill(4)]], verify: [] },
  ];
  const packed = packJobs(jobs)!;
  expect(unpackJobs(packed)).toEqual(jobs);
  const results = jobs.map((j) => runCurveJob(secp256k1Backend(), j));
  expect(results[0]!.verified).toEqual([true, false]);
  expect(results[0]!.recovered).toEqual(getPublicKey(a));
  expect(results[2]!.dh).toBeUndefined();
  expect(unpackResults(packResults(results))).toEqual(results);
  expect(unpackJobs(packed).map((j) => runCurveJob(secp256k1Backend(), j))).toEqual(results);
  expect(
    packJobs([{ ecdh: [], verify: [[getPublicKey(a).subarray(1), digest, sig.bytes]] }]),
  ).toBeUndefined();
});
