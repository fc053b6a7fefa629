/*
 * connect/callback: the OAuth authorization-code flow as shared/routes/connect.cc and
 * shared/routes/callback.cc run it over Redis (shared/store/flow_store.cc), for SPIN.
 * docs/architecture.md "Models (SPIN)" maps every step to the code it abstracts.
 *
 * Every Redis command is one atomic step, and any of them may fail (the handler then answers
 * 503 / "unavailable"); a write may also fail after Redis executed it (the reply is lost).
 * Users 1 and 2, three handler processes per run (init picks which: two callbacks racing on one
 * state; one user's two flows, so the per-user cap of 1 trims, and a callback; both users' flows
 * and a callback). Any callback may present any state that left through a redirect: that covers
 * a leaked authorize URL (the attacker finishes the victim's flow) and a lured victim (the
 * victim finishes the attacker's flow).
 *
 * Properties (each with a mutant that SPIN must refute; tests/model/run-spin):
 *   P1  no credential is stored for a user who did not both start and finish its flow
 *       (mutant NO_USER_CHECK: the callback skips the flow-user == caller check)
 *   P2  a state is exchanged at most once
 *       (mutant GET_THEN_DEL: the callback reads the flow with GET, then deletes it with DEL)
 *   P7  when a connect's store step completes, its user has at most CAP indexed flows, and the
 *       flow just stored is among them with its record (no over-drop of the new flow)
 *       (mutant PUT_IN_STEPS: the store, index and trim as separate commands, as before the
 *       script: two connects of one user count each other's flows and over-drop or exceed)
 * -DONLY=n keeps only property n's assertions, so a mutant is refuted by the property it targets.
 */

#ifndef ONLY
#define ONLY 0
#endif
#if ONLY == 0 || ONLY == 1
#define ASSERT_P1(e) assert(e)
#else
#define ASSERT_P1(e) skip
#endif
#if ONLY == 0 || ONLY == 2
#define ASSERT_P2(e) assert(e)
#else
#define ASSERT_P2(e) skip
#endif
#if ONLY == 0 || ONLY == 7
#define ASSERT_P7(e) assert(e)
#else
#define ASSERT_P7(e) skip
#endif

#define NS 2          /* states (flows) */
#define CAP 1         /* max_pending_flows_per_user, small so that FlowStore::put trims */
#define NONE 255

mtype = { OK, REFUSED, FAILED };

/* Redis */
byte flow[NS];        /* <prefix>flow:<sha256(state)>: 0 = absent, else the user sealed inside */
byte zs[NS];          /* score of the state in <prefix>flows:{starter}: 0 = not a member */
byte cred[3];         /* <prefix>cred:{u} field: 0 = none, else 1 + the state it came from */
/* time */
byte tick;            /* creation-time source for the index scores (microseconds) */
bool aged[NS];        /* the flow's TTL passed: ZREMRANGEBYSCORE drops its index entry */
/* ghosts: what the world knows, for the properties */
byte starter[NS];     /* who ran connect for the state */
bool issued[NS];      /* connect redirected with the state: a browser (or attacker) may hold it */
byte exchanged[NS];   /* code exchanges at the token endpoint made with the state's flow */

chan token_ep = [0] of { chan };   /* a request carries its reply channel */

/* A Redis command that may fail: the handler leaves by `label`, its 503 / "unavailable" path. */
#define redis_may_fail(label) if :: skip :: goto label fi

/* P7, inside the atomic step that ends a connect's store step: user u has at most CAP indexed
 * flows, flow s among them, its record present (or gone with its TTL: the clock is free). */
inline check_cap(u, s) {
  n = 0; i = 0;
  do
  :: i < NS -> if :: starter[i] == u && zs[i] != 0 -> n++ :: else fi; i++
  :: else -> break
  od;
  ASSERT_P7(n <= CAP && zs[s] != 0 && (flow[s] == u || aged[s]));
  i = 0; n = 0
}

/* FlowStore::put as one EVALSHA of scripts::kPutFlow, one atomic step: SET NX EX (nothing more
 * when the key exists), the index trimmed of aged entries, ZADD at the server's TIME, then while
 * over the cap the lowest-scored other member goes from the index and its flow is deleted,
 * EXPIRE. */
inline put_script(u, s) {
  flow[s] = u;
  tick++;
  i = 0;
  do
  :: i < NS -> if :: starter[i] == u && aged[i] -> zs[i] = 0 :: else fi; i++
  :: else -> break
  od;
  zs[s] = tick;
  n = 0; i = 0;
  do
  :: i < NS -> if :: starter[i] == u && zs[i] != 0 -> n++ :: else fi; i++
  :: else -> break
  od;
  do
  :: n > CAP ->
     lo = NONE; i = 0;
     do
     :: i < NS ->
        if
        :: i != s && starter[i] == u && zs[i] != 0 && (lo == NONE || zs[i] < zs[lo]) -> lo = i
        :: else
        fi;
        i++
     :: else -> break
     od;
     zs[lo] = 0; flow[lo] = 0; n--
  :: else -> break
  od;
  i = 0; n = 0; lo = 0
}

/* connect (shared/routes/connect.cc) -> FlowStore::put: the script, which may fail before it
 * runs, or run with its reply lost (the handler answers 503 either way, the flow stays inside the
 * cap until its TTL). `issued` marks the redirect that carries the state out. */
proctype connect(byte u; byte s) {
  byte n, i, lo;
#ifdef PUT_IN_STEPS
  byte k, popped[NS], npop, keep;
#endif
  starter[s] = u;

#ifndef PUT_IN_STEPS
  /* code: connect.put_script */
  if
  :: d_step { flow[s] == 0 -> put_script(u, s); check_cap(u, s) }
  :: d_step { flow[s] == 0 -> put_script(u, s) }; goto unavailable   /* ran, reply lost */
  :: goto unavailable
  fi;
#else
  /* The steps before the script: SET NX EX, ZADD, ZREMRANGEBYSCORE, ZCARD, ZPOPMIN excess+1, per
   * popped member a DEL or a ZADD back, EXPIRE, one command each; `abandon` on a failure. */
    /* SET <flow key> <sealed> NX EX ttl */
    if
    :: atomic { flow[s] == 0 -> flow[s] = u }
    :: atomic { flow[s] == 0 -> flow[s] = u }; goto unavailable   /* executed, reply lost */
    :: goto unavailable
    fi;

    /* ZADD index now id */
    redis_may_fail(abandon);
    atomic { tick++; zs[s] = tick };

    /* ZREMRANGEBYSCORE index -inf now-ttl (never this flow: its TTL is far from over) */
    redis_may_fail(abandon);
    d_step {
      i = 0;
      do
      :: i < NS -> if :: i != s && starter[i] == u && aged[i] -> zs[i] = 0 :: else fi; i++
      :: else -> break
      od;
      i = 0
    };

    /* ZCARD index */
    redis_may_fail(abandon);
    d_step {
      n = 0; i = 0;
      do
      :: i < NS -> if :: starter[i] == u && zs[i] != 0 -> n++ :: else fi; i++
      :: else -> break
      od;
      i = 0
    };

    if
    :: n > CAP ->
       /* ZPOPMIN index excess+1: lowest scores first */
       redis_may_fail(abandon);
       d_step {
         npop = 0;
         do
         :: npop < n - CAP + 1 ->
            lo = NONE; i = 0;
            do
            :: i < NS ->
               if
               :: starter[i] == u && zs[i] != 0 && (lo == NONE || zs[i] < zs[lo]) -> lo = i
               :: else
               fi;
               i++
            :: else -> break
            od;
            if
            :: lo == NONE -> break
            :: else -> popped[npop] = lo; zs[lo] = 0; npop++
            fi
         :: else -> break
         od;
         /* this flow when it was popped, else the youngest popped */
         keep = npop - 1; i = 0;
         do
         :: i < npop -> if :: popped[i] == s -> keep = i :: else fi; i++
         :: else -> break
         od;
         i = 0; lo = 0
       };
       k = 0;
       do
       :: k < npop ->
          redis_may_fail(abandon);
          if
          :: k == keep -> atomic { tick++; zs[popped[k]] = tick }   /* ZADD back */
          :: else -> flow[popped[k]] = 0                            /* DEL flow:<id> */
          fi;
          k++
       :: else -> break
       od
    :: else
    fi;

  /* EXPIRE index ttl */
  redis_may_fail(abandon);
  d_step { check_cap(u, s) };
#endif
  /* code: connect.redirect */
  issued[s] = true;     /* the redirect carries the state */
  goto end_connect;

#ifdef PUT_IN_STEPS
abandon:
  if :: zs[s] = 0 :: skip fi;       /* ZREM, may fail */
  if :: flow[s] = 0 :: skip fi;     /* DEL, may fail */
#endif
unavailable:
  skip;
end_connect:
  skip
}

/* callback (shared/routes/callback.cc) with FlowStore::take: GETDEL of the flow, the user check,
 * the code exchange, the sealed write (CredentialStore::put). `c` is the authenticated caller. */
proctype callback(byte c) {
  byte s, f;
  mtype outcome;
  chan reply = [0] of { mtype };

  /* A browser, or an attacker holding a leaked URL, comes back with some issued state; or never. */
end_idle:
  if
  :: issued[0] -> s = 0
  :: issued[1] -> s = 1
  fi;

#ifdef GET_THEN_DEL
  /* GET, then DEL: two callbacks may both read the flow before either deletes it. */
  redis_may_fail(end_callback);
  f = flow[s];
  redis_may_fail(end_callback);
  atomic { flow[s] = 0; zs[s] = 0 };
#else
  /* code: callback.getdel */
  /* One script (scripts::kTakeFlow): GETDEL of the flow and ZREM of its index entry, atomically;
   * of racing callbacks with one state exactly one gets the flow. */
  redis_may_fail(end_callback);
  atomic { f = flow[s]; flow[s] = 0; zs[s] = 0 };
#endif
  if
  :: f == 0 -> goto end_callback          /* invalid_state */
  :: else
  fi;

#ifndef NO_USER_CHECK
  if
  /* code: callback.user_check */
  :: f != c -> goto end_callback          /* user_mismatch: nothing stored */
  :: else
  fi;
#endif

  /* The code exchange with the flow's verifier. */
  ASSERT_P2(exchanged[s] == 0);
  exchanged[s]++;
  /* code: callback.exchange */
  token_ep ! reply;
  reply ? outcome;
  if
  :: outcome != OK -> goto end_callback   /* connect_failed: nothing stored */
  :: else
  fi;

  /* code: callback.write */
  /* HSET cred:{caller} server_key sealed (CredentialStore::put) */
  if
  :: skip
  :: goto end_callback                    /* unavailable, not executed */
  fi;
  ASSERT_P1(starter[s] == c);
  cred[c] = s + 1;
end_callback:
  skip
}

/* The upstream token endpoint: answers, refuses (invalid_grant, a used code, an error the
 * authorization server redirected with), fails or stalls until the client's timeout (FAILED). */
proctype authorization_server() {
  chan r;
end_as:
  do
  :: token_ep ? r ->
     if
     :: r ! OK
     :: r ! REFUSED
     :: r ! FAILED
     fi
  od
}

/* The clock: a flow's TTL may pass at any time. */
proctype clock() {
end_clock:
  do
  :: atomic { flow[0] != 0 -> flow[0] = 0; aged[0] = true }
  :: atomic { flow[1] != 0 -> flow[1] = 0; aged[1] = true }
  od
}

init {
  /* Three handler processes per run; which three is chosen here, so one search covers them all.
   * User 1 stands for either user: the choices swapped between users are the same runs. */
  atomic {
    run authorization_server();
    run clock();
    if
    :: /* racing callbacks on one state, each by either user */
       run connect(1, 0);
       if
       :: run callback(1); run callback(1)
       :: run callback(1); run callback(2)
       :: run callback(2); run callback(2)
       fi
    :: /* one user's two flows and the cap, against a callback by either user */
       run connect(1, 0); run connect(1, 1);
       if
       :: run callback(1)
       :: run callback(2)
       fi
    :: /* both users' flows: a leaked state, a lured victim */
       run connect(1, 0); run connect(2, 1);
       if
       :: run callback(1)
       :: run callback(2)
       fi
    fi
  }
}
