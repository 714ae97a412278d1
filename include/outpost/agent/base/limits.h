/* Sizes every role agrees on. Here rather than in the bus's header because the pure
 * readers (the proof, at the edge) bound their input by them too, and they never
 * refer to NATS. */
#ifndef OUTPOST_LIMITS_H
#define OUTPOST_LIMITS_H

/* The largest value in a bucket (the buckets' max_value_size): an app, the proof, a
 * status key. */
#define OP_MAX_VALUE (1024 * 1024)

#endif
