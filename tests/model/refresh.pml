/*
 * refresh/exchange: one renewal of a credential near its expiry across processes and machines,
 * as shared/broker/resolver.cc runs it with shared/store/refresh_lock.cc (the lock) and
 * shared/store/credential_store.cc (load_versioned, put_if), for SPIN.
 * docs/architecture.md "Models (SPIN)" maps every step to the code it abstracts.
 *
 * Every Redis command is one atomic step and any of them may fail (the resolver answers 503);
 * a write may also fail after Redis executed it (the reply is lost). The lock's lease may end at
 * any time after it was taken, also while its owner still works. The upstream rotates refresh
 * tokens: a grant with the valid token may come back with a new one, which invalidates the old.
 * Three resolvers, on users 1, 1, 1 or 1, 1, 2 (init), each user's record due for renewal.
 *
 * Properties (each with a mutant that SPIN must refute; tests/model/run-spin):
 *   P3  one request per expiry while the lock holds: only a lock owner calls the upstream;
 *       while its lease holds no other lease holder's request for that credential is in flight;
 *       and it renews the record that is current, not one another renewal already replaced
 *       (unless a lease ended while its owner worked)
 *       (mutant RELEASE_WITHOUT_OWNER_CHECK: release is a plain DEL;
 *        mutant NO_DOUBLE_CHECK: the owner renews what it read before taking the lock)
 *   P4  a stale renewal never overwrites a newer record: a write replaces exactly the version
 *       its renewal started from   (mutant WRITE_WITHOUT_CAS: a plain HSET)
 *   P5  a rotated refresh token is never lost: whenever the upstream holds a valid refresh token
 *       the stored record holds it too, or a resolver has it in hand on its way to the store;
 *       unless Redis lost that write, or a lease ended while its owner still worked (then two
 *       renewals overlap and the upstream decides which token survives; P4 still holds)
 *       (mutant WAITER_REFRESHES: a waiter that gives up renews by itself, without the lock)
 *   P6  every resolve ends: no deadlock (pan's invalid end states) and no cycle (pan -l with
 *       -DNP: the model has no progress labels, so any infinite run is reported)
 *       (mutant WAITER_WAITS_UNBOUNDED: a waiter polls until the record changes)
 * -DONLY=n keeps only property n's assertions, so a mutant is refuted by the property it targets.
 * -DSTRICT_ROTATION drops P5's lease exception: SPIN then shows why it is needed.
 */

#ifndef ONLY
#define ONLY 0
#endif
#if ONLY == 0 || ONLY == 3
#define ASSERT_P3(e) assert(e)
#else
#define ASSERT_P3(e) skip
#endif
#if ONLY == 0 || ONLY == 4
#define ASSERT_P4(e) assert(e)
#else
#define ASSERT_P4(e) skip
#endif

#define NR 3          /* resolver processes */
#define MAXV 8        /* record versions: 2 initial + at most one write per resolver */
#define MAXPOLL 2     /* a waiter's polls (max_wait_ms / poll_interval_ms in the code) */

mtype = { GRANTED, INVALID_GRANT, UPSTREAM_FAILED };   /* token endpoint outcomes */

/* Redis */
byte rec[3];          /* <prefix>cred:{u} field: the record's version (its sealed bytes), 0 = none */
byte v_rt[MAXV];      /* refresh token inside version v, 0 = none */
bool v_fresh[MAXV];   /* not yet within the refresh window of its expiry (the clock ends it) */
bool v_reconnect[MAXV];
byte nextv;           /* every seal has a fresh nonce: every write is a new version */
byte lock[3];         /* <prefix>lock:{u}:<server key>: owner token (1 + slot), 0 = none */
/* the upstream */
byte up_rt[3];        /* the refresh token it accepts now, 0 = none (consent revoked) */
byte up_issued[3];    /* the newest refresh token it issued */
chan token_ep = [0] of { byte, byte, byte };            /* slot, user, refresh token */
chan reply[NR] = [1] of { mtype, byte };                /* outcome, rotated refresh token */
/* ghosts */
byte user_of[NR];
bool lease[NR];       /* the slot's lock has neither expired nor been released by it */
bool working[NR];     /* the slot took the lock and has not yet released it */
bool calling[NR];     /* the slot's token request is in flight */
byte hand[NR];        /* a rotated refresh token on its way from the upstream to the store */
bool expired_in_use[3];   /* a lease ended while its owner still worked */
bool write_lost[3];       /* Redis failed a write that carried a rotated refresh token */

/* Standing of a version (shared/broker/lifecycle.cc standing, Resolver::Call::settle). */
#define USABLE(v)    (v != 0 && !v_reconnect[v] && v_fresh[v])
#define RECONNECT(v) (v == 0 || v_reconnect[v] || (!v_fresh[v] && v_rt[v] == 0))

#define LIVE_CALL(q, u) (user_of[q] == u && calling[q] && lease[q])
#define OTHER_LIVE_CALL(me, u) \
  ((me != 0 && LIVE_CALL(0, u)) || (me != 1 && LIVE_CALL(1, u)) || (me != 2 && LIVE_CALL(2, u)))
#define HOLDS(q, u, t) (user_of[q] == u && hand[q] == t)
#define IN_HAND(u, t) (HOLDS(0, u, t) || HOLDS(1, u, t) || HOLDS(2, u, t))
#define LOST(u) (up_rt[u] != 0 && v_rt[rec[u]] != up_rt[u] && !IN_HAND(u, up_rt[u]))
#ifdef STRICT_ROTATION
#define P5_HOLDS(u) (!LOST(u) || write_lost[u])
#else
#define P5_HOLDS(u) (!LOST(u) || write_lost[u] || expired_in_use[u])
#endif

#define redis_may_fail(label) if :: skip :: goto label fi

#ifdef WRITE_WITHOUT_CAS
#define CAS_OK(u, base) true
#else
#define CAS_OK(u, base) (rec[u] == base)
#endif

/* P5 in the states a step may break it: after a write or a failed one, after the upstream
 * answered. Nothing else changes the record, the upstream's token or a token in hand. */
#if ONLY == 0 || ONLY == 5
#define CHECK_P5 assert(P5_HOLDS(1) && P5_HOLDS(2))
#else
#define CHECK_P5 skip
#endif

/* code: refresh.put_if */
/* The write of CredentialStore::put_if: one EVALSHA (HGET, compare with `base`, HSET). */
#define WRITE(u, base, rt, fresh, reconnect) \
  ASSERT_P4(rec[u] == base); \
  v_rt[nextv] = rt; v_fresh[nextv] = fresh; v_reconnect[nextv] = reconnect; \
  rec[u] = nextv; nextv++

/* put_if: `wr` 1 written, 0 compare failed, 2 Redis failed (before or after executing). */
inline put_if(u, base, rt, fresh, reconnect, wr) {
  if
  :: atomic { CAS_OK(u, base) -> WRITE(u, base, rt, fresh, reconnect); wr = 1; hand[me] = 0;
              CHECK_P5 }
  :: atomic { !CAS_OK(u, base) -> wr = 0; hand[me] = 0; CHECK_P5 }
  :: atomic { CAS_OK(u, base) -> WRITE(u, base, rt, fresh, reconnect); wr = 2; hand[me] = 0;
              CHECK_P5 }
  :: atomic { wr = 2; if :: hand[me] != 0 -> write_lost[u] = true :: else fi; hand[me] = 0;
              CHECK_P5 }
  fi
}

/* Resolver::resolve for an oauth_connect server: the first read, the lock, then renew_as_owner or
 * wait_for_owner, and the release. (Token exchange and on-behalf-of send the subject token
 * instead, renew an absent record, and rotate nothing; they are not modelled.) `me` is the slot,
 * `u` the user. The answer of each exit is in its comment; the properties do not depend on it. */
proctype resolver(byte me; byte u) {
  byte v0, v1, v, seen, rt, newrt, polls, wr;
  mtype out;
  bool got, held;

  /* code: refresh.first_read */
  /* load_versioned: HGET */
  redis_may_fail(done);                                 /* 503 */
  v0 = rec[u];
  if
  :: USABLE(v0) -> goto done                            /* 200 */
  :: RECONNECT(v0) -> goto done                         /* 409 */
  :: else
  fi;

  /* code: refresh.lock */
  /* RefreshLock::try_acquire: SET lock token NX PX lock_ttl_ms */
  if
  :: atomic { lock[u] == 0 -> lock[u] = me + 1; lease[me] = true; working[me] = true; got = true }
  :: atomic { lock[u] != 0 -> got = false }
  :: atomic { lock[u] == 0 -> lock[u] = me + 1; lease[me] = true }; goto done   /* reply lost */
  :: goto done                                          /* 503 */
  fi;
  if
  :: got -> goto owner
  :: else -> goto waiter
  fi;

owner:
  /* code: refresh.reread */
  /* renew_as_owner: look again, another owner may have renewed since our first read */
#ifdef NO_DOUBLE_CHECK
  v1 = v0;
#else
  redis_may_fail(release);                              /* 503 */
  v1 = rec[u];
#endif
  if
  :: USABLE(v1) -> goto release                         /* 200 */
  :: RECONNECT(v1) -> goto release                      /* 409 */
  :: else
  fi;
  rt = v_rt[v1];
  /* oauth::request_grant: in flight until the reply is taken; the upstream decides at once,
     and the lock may expire or others act before and after */
  atomic {
    ASSERT_P3(working[me] && !(lease[me] && OTHER_LIVE_CALL(me, u)) &&
              (expired_in_use[u] || rec[u] == v1));
    calling[me] = true;
/* code: refresh.request */
    token_ep ! me, u, rt
  };
  atomic { reply[me] ? out, newrt; calling[me] = false };
  if
  :: out == UPSTREAM_FAILED -> skip                     /* 502 */
  :: out == INVALID_GRANT ->
     /* refused(): tokens cleared, reconnect_required; 409, 503 when Redis failed */
/* code: refresh.invalid_grant */
     put_if(u, v1, 0, false, true, wr);
     if
     :: wr == 0 ->
/* code: refresh.settle_newer */
        /* superseded (settle_newer): the newer record decides, not our refusal */
        redis_may_fail(release);
        v = rec[u]
     :: else
     fi
  :: out == GRANTED ->
     /* after_refresh(): the rotated refresh token if one came, else the old one */
     if
     :: newrt == 0 -> newrt = v_rt[v1]
     :: else
     fi;
/* code: refresh.granted_write */
     put_if(u, v1, newrt, true, false, wr);             /* 1: 200, 2: 503 */
     if
     :: wr == 0 ->
        /* superseded: whatever newer record is there (200 usable, 409, else 503) */
        redis_may_fail(release);
        v = rec[u]
     :: else
     fi
  fi;
/* code: refresh.release */
release:
  /* RefreshLock::release, best effort, also after a store failure */
  if
#ifdef RELEASE_WITHOUT_OWNER_CHECK
  :: atomic { lock[u] = 0; lease[me] = false; working[me] = false }
#else
  /* code: refresh.compare_and_delete */
  :: atomic { lock[u] == me + 1 -> lock[u] = 0; lease[me] = false; working[me] = false }
  :: atomic { lock[u] != me + 1 -> working[me] = false }
#endif
  :: working[me] = false                                /* fails: the lock expires by itself */
  fi;
  goto done;

/* code: refresh.waiter */
waiter:
  /* wait_for_owner */
  seen = v0;
#ifdef WAITER_WAITS_UNBOUNDED
  do
  :: redis_may_fail(done);
     v = rec[u];
     if
     :: v != seen && (USABLE(v) || RECONNECT(v)) -> goto done
     :: else -> seen = v
     fi
  od;
#else
  do
  :: polls == MAXPOLL ->
#ifdef WAITER_REFRESHES
     goto owner
#else
     goto done                                          /* 503 kBusy */
#endif
  :: polls < MAXPOLL ->
     /* the lock first, then the record: a record read after the lock was seen gone already
        holds whatever its owner wrote */
     redis_may_fail(done);                              /* 503 */
     held = (lock[u] != 0);
     redis_may_fail(done);                              /* 503 */
     v = rec[u];
     if
     :: v != seen && (USABLE(v) || RECONNECT(v)) -> goto done   /* 200 or 409 */
     :: else -> seen = v
     fi;
     if
     :: !held -> goto done                              /* 502: the owner failed */
     :: else
     fi;
     polls++
  od;
#endif

done:
  /* A finished resolver's leftovers must not tell states apart. */
  skip;
  d_step { v0 = 0; v1 = 0; v = 0; seen = 0; rt = 0; newrt = 0; polls = 0; wr = 0; out = 0;
           got = false; held = false }
}

/* The upstream token endpoint. A request may wait here (stall) while everything else goes on;
 * then it is granted (with or without a rotated refresh token), refused or failed (5xx, garbage,
 * or a stall past the client's timeout). A reused, invalidated refresh token is refused. */
proctype authorization_server() {
  byte who, u, rt, nrt;
  mtype out;
end_as:
  do
  :: atomic {
       token_ep ? who, u, rt;
       nrt = 0;
       if
       :: rt != 0 && rt == up_rt[u] ->
          if
          :: out = GRANTED
          :: out = GRANTED; up_issued[u]++; up_rt[u] = up_issued[u]; nrt = up_rt[u]
          :: out = INVALID_GRANT; up_rt[u] = 0                /* consent revoked */
          :: out = UPSTREAM_FAILED
          fi
       :: else ->
          if
          :: out = INVALID_GRANT
          :: out = UPSTREAM_FAILED
          fi
       fi;
       hand[who] = nrt;
       CHECK_P5;
       reply[who] ! out, nrt;
       who = 0; u = 0; rt = 0; nrt = 0
     }
  od
}

/* The clock: a lock's lease ends (PX), a record enters its refresh window. */
#define EXPIRE_LEASE(q) \
  atomic { \
    lease[q] -> lease[q] = false; \
    if :: lock[user_of[q]] == q + 1 -> lock[user_of[q]] = 0 :: else fi; \
    if :: working[q] -> expired_in_use[user_of[q]] = true :: else fi \
  }

proctype clock() {
end_clock:
  do
  :: EXPIRE_LEASE(0)
  :: EXPIRE_LEASE(1)
  :: EXPIRE_LEASE(2)
  :: atomic { v_fresh[rec[1]] -> v_fresh[rec[1]] = false }
  :: atomic { v_fresh[rec[2]] -> v_fresh[rec[2]] = false }
  od
}

init {
  atomic {
    /* Each user's record carries refresh token 1, valid upstream, and is due for renewal. */
    rec[1] = 1; v_rt[1] = 1; rec[2] = 2; v_rt[2] = 1; nextv = 3;
    up_rt[1] = 1; up_issued[1] = 1; up_rt[2] = 1; up_issued[2] = 1;
    user_of[0] = 1; user_of[1] = 1;
    /* All three on one credential, or two on one and one on another user's: other assignments
       are these with users or slots renamed. */
#if USERS == 1
    user_of[2] = 1;
#else
    user_of[2] = 2;
#endif
    run authorization_server();
    run clock();
    run resolver(0, user_of[0]);
    run resolver(1, user_of[1]);
    run resolver(2, user_of[2])
  }
}
