/** Balancing strategies on in-memory members: sequences and distribution properties. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { BALANCER_NAMES, BALANCERS } from "../src/balance/registry.ts";
import { hashKey } from "../src/balance/hash-key.ts";
import type { Balancer, Member } from "../src/balance/types.ts";
import { type FakeMember, fakeMembers, seededRandom, tally } from "./helpers/fakes.ts";

const build = (name: keyof typeof BALANCERS, members: Member[], seed = 1): Balancer =>
  BALANCERS[name](members, { random: seededRandom(seed) });

const picks = (balancer: Balancer, count: number, key = (i: number) => i): string[] =>
  Array.from({ length: count }, (_, i) => balancer.pick(key(i))!.key);

/** 10,000 client addresses spread over 10.x.y.z. */
const clients = Array.from({ length: 10_000 }, (_, i) => hashKey(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`));

describe("every strategy", () => {
  for (const name of BALANCER_NAMES) {
    test(`${name}: skips ineligible members and those already tried`, () => {
      const members = fakeMembers(1, 1, 1);
      const balancer = build(name, members);
      members[0].eligible = false;
      for (let i = 0; i < 50; i++) {
        const picked = balancer.pick(clients[i], [members[1]]);
        assert.equal(picked, members[2]);
      }
    });

    test(`${name}: returns undefined when nothing qualifies, and panic ignores eligibility`, () => {
      const members = fakeMembers(1, 2);
      const balancer = build(name, members);
      for (const m of members) m.eligible = false;
      assert.equal(balancer.pick(clients[0]), undefined);
      assert.ok(members.includes(balancer.pick(clients[0], undefined, true)!));
      assert.equal(balancer.pick(clients[0], members, true), undefined);
      assert.equal(build(name, []).pick(clients[0]), undefined);
    });
  }
});

describe("round-robin", () => {
  test("pick() rotates through members in order, ignoring weight", () => {
    assert.deepEqual(picks(build("round-robin", fakeMembers(5, 1, 1)), 7), ["a", "b", "c", "a", "b", "c", "a"]);
  });

  test("pick() continues after an ineligible member without repeating the next one", () => {
    const members = fakeMembers(1, 1, 1);
    const balancer = build("round-robin", members);
    members[1].eligible = false;
    assert.deepEqual(picks(balancer, 4), ["a", "c", "a", "c"]);
  });
});

describe("weighted (smooth)", () => {
  test("pick() gives nginx's smooth sequence for weights 5,1,1", () => {
    assert.deepEqual(picks(build("weighted", fakeMembers(5, 1, 1)), 7), ["a", "a", "b", "a", "c", "a", "a"]);
  });

  test("pick() honours weights exactly over whole cycles", () => {
    assert.deepEqual(tally(picks(build("weighted", fakeMembers(3, 2, 1)), 6000)), { a: 3000, b: 2000, c: 1000 });
  });

  test("pick() redistributes an ineligible member's share by weight", () => {
    const members = fakeMembers(3, 2, 1);
    const balancer = build("weighted", members);
    members[0].eligible = false;
    assert.deepEqual(tally(picks(balancer, 3000)), { b: 2000, c: 1000 });
  });
});

/** Simulates connections: each pick opens one; members listed in `slow` never close theirs. */
function simulateLoad(balancer: Balancer, slow: Set<string>, count: number, seed = 7) {
  const rnd = seededRandom(seed);
  const open: FakeMember[] = [];
  const chosen: string[] = [];
  for (let i = 0; i < count; i++) {
    const m = balancer.pick(i) as FakeMember;
    m.active++;
    chosen.push(m.key);
    if (!slow.has(m.key)) open.push(m);
    // Fast members finish their connections quickly.
    while (open.length > 2 && rnd() < 0.9) open.splice(Math.floor(rnd() * open.length), 1)[0].active--;
  }
  return tally(chosen);
}

describe("least-conn", () => {
  test("pick() takes the member with the fewest active connections", () => {
    const members = fakeMembers(1, 1, 1);
    [members[0].active, members[1].active, members[2].active] = [5, 1, 3];
    assert.equal(build("least-conn", members).pick(0)!.key, "b");
  });

  test("pick() compares active per unit of weight", () => {
    const members = fakeMembers(1, 4);
    [members[0].active, members[1].active] = [2, 7]; // 2/1 > 7/4
    assert.equal(build("least-conn", members).pick(0)!.key, "b");
  });

  test("pick() rotates among tied members", () => {
    assert.deepEqual(tally(picks(build("least-conn", fakeMembers(1, 1, 1)), 300)), { a: 100, b: 100, c: 100 });
  });

  test("under uneven load, a member whose connections never finish gets few new ones", () => {
    const members = fakeMembers(1, 1, 1);
    const counts = simulateLoad(build("least-conn", members), new Set(["a"]), 3000);
    assert.ok(counts.a < 100, `slow member got ${counts.a} of 3000`);
    assert.ok(counts.b > 1000 && counts.c > 1000, JSON.stringify(counts));
  });
});

describe("random", () => {
  test("pick() follows weights within 3% over 60,000 draws", () => {
    const counts = tally(picks(build("random", fakeMembers(1, 2, 3), 42), 60_000));
    assert.ok(Math.abs(counts.a - 10_000) < 300, JSON.stringify(counts));
    assert.ok(Math.abs(counts.b - 20_000) < 600, JSON.stringify(counts));
    assert.ok(Math.abs(counts.c - 30_000) < 900, JSON.stringify(counts));
  });
});

describe("p2c", () => {
  test("pick() spreads idle members evenly", () => {
    const counts = tally(picks(build("p2c", fakeMembers(1, 1, 1, 1), 3), 40_000));
    for (const k of "abcd") assert.ok(Math.abs(counts[k] - 10_000) < 500, JSON.stringify(counts));
  });

  test("pick() never takes the busier of the two it drew", () => {
    const members = fakeMembers(1, 1);
    [members[0].active, members[1].active] = [10, 0];
    assert.deepEqual(tally(picks(build("p2c", members, 9), 100)), { b: 100 });
  });

  test("under uneven load, a member whose connections never finish gets few new ones", () => {
    const members = fakeMembers(1, 1, 1);
    const counts = simulateLoad(build("p2c", members, 5), new Set(["a"]), 3000);
    assert.ok(counts.a < 150, `slow member got ${counts.a} of 3000`);
  });
});

describe("hash", () => {
  const mapping = (balancer: Balancer) => clients.map((key) => balancer.pick(key)!.key);

  test("pick() sends the same client to the same member every time", () => {
    const balancer = build("hash", fakeMembers(1, 1, 1));
    assert.deepEqual(mapping(balancer), mapping(balancer));
    assert.deepEqual(mapping(build("hash", fakeMembers(1, 1, 1))), mapping(balancer));
  });

  test("pick() spreads clients within 20% of an even share", () => {
    const counts = tally(mapping(build("hash", fakeMembers(1, 1, 1, 1, 1))));
    for (const k of "abcde") assert.ok(Math.abs(counts[k] - 2000) < 400, JSON.stringify(counts));
  });

  test("removing one of five members remaps only its own clients, about 1/5 of all", () => {
    const members = fakeMembers(1, 1, 1, 1, 1);
    const before = mapping(build("hash", members));
    const after = mapping(build("hash", members.filter((m) => m.key !== "c")));
    let moved = 0;
    for (let i = 0; i < clients.length; i++) {
      if (before[i] !== after[i]) {
        moved++;
        assert.equal(before[i], "c", "a client of a remaining member moved");
      }
    }
    assert.ok(moved > 1200 && moved < 2800, `moved ${moved} of 10000`);
  });

  test("an ineligible member's clients go elsewhere and come back when it returns", () => {
    const members = fakeMembers(1, 1, 1);
    const balancer = build("hash", members);
    const before = mapping(balancer);
    members[0].eligible = false;
    const during = mapping(balancer);
    assert.ok(during.every((k, i) => k !== "a" && (before[i] === "a" || k === before[i])));
    members[0].eligible = true;
    assert.deepEqual(mapping(balancer), before);
  });
});
