/*
 * thr_queue: 4 producer and 4 consumer threads contend on one mutex and two
 * condition variables guarding a small bounded queue, moving 100,000 items.
 *
 * Producer p pushes the values p*25000+1 .. (p+1)*25000; a consumer stops
 * at a stop marker (one per consumer, pushed by main after the producers
 * are joined). The queue holds only 64 items, so producers and consumers
 * both block in pthread_cond_wait (FUTEX_WAIT) again and again.
 *
 * Printed (deterministic whatever the interleaving): how many items were
 * produced and consumed, their sum, whether every value was seen exactly
 * once, and whether each producer's values came out in order (a FIFO queue
 * keeps one producer's pushes ordered for every single consumer).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRODUCERS 4
#define CONSUMERS 4
#define ITEMS 100000
#define PER_PRODUCER (ITEMS / PRODUCERS)
#define CAPACITY 64
#define STOP 0

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static long queue[CAPACITY];
static int head, count;
static long produced;
static unsigned char seen[ITEMS + 1];

struct consumer {
	long items;
	long long sum;
	long last[PRODUCERS];
	int out_of_order;
	int duplicates;
};

static void push(long value)
{
	pthread_mutex_lock(&lock);
	while (count == CAPACITY)
		pthread_cond_wait(&not_full, &lock);
	queue[(head + count) % CAPACITY] = value;
	count++;
	if (value != STOP)
		produced++;
	pthread_cond_signal(&not_empty);
	pthread_mutex_unlock(&lock);
}

static long pop(void)
{
	pthread_mutex_lock(&lock);
	while (count == 0)
		pthread_cond_wait(&not_empty, &lock);
	long value = queue[head];
	head = (head + 1) % CAPACITY;
	count--;
	pthread_cond_signal(&not_full);
	pthread_mutex_unlock(&lock);
	return value;
}

static void *producer(void *arg)
{
	long p = (long)arg;
	for (long i = 1; i <= PER_PRODUCER; i++)
		push(p * PER_PRODUCER + i);
	return NULL;
}

static void *consumer(void *arg)
{
	struct consumer *c = arg;
	for (;;) {
		long v = pop();
		if (v == STOP)
			return NULL;
		c->items++;
		c->sum += v;
		long p = (v - 1) / PER_PRODUCER;
		if (v <= c->last[p])
			c->out_of_order++;
		c->last[p] = v;
		/* Each value goes to exactly one consumer: no lock needed. */
		if (seen[v]++)
			c->duplicates++;
	}
}

int main(void)
{
	pthread_t prod[PRODUCERS], cons[CONSUMERS];
	struct consumer stats[CONSUMERS];
	memset(stats, 0, sizeof(stats));

	for (long i = 0; i < CONSUMERS; i++)
		if (pthread_create(&cons[i], NULL, consumer, &stats[i]) != 0) {
			printf("pthread_create consumer failed\n");
			return 1;
		}
	for (long i = 0; i < PRODUCERS; i++)
		if (pthread_create(&prod[i], NULL, producer, (void *)i) != 0) {
			printf("pthread_create producer failed\n");
			return 1;
		}
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(prod[i], NULL);
	for (int i = 0; i < CONSUMERS; i++)
		push(STOP);
	for (int i = 0; i < CONSUMERS; i++)
		pthread_join(cons[i], NULL);

	long items = 0, out_of_order = 0, duplicates = 0, missing = 0;
	long long sum = 0;
	for (int i = 0; i < CONSUMERS; i++) {
		items += stats[i].items;
		sum += stats[i].sum;
		out_of_order += stats[i].out_of_order;
		duplicates += stats[i].duplicates;
	}
	for (long v = 1; v <= ITEMS; v++)
		if (!seen[v])
			missing++;
	printf("threads: %d producers, %d consumers, queue capacity %d\n", PRODUCERS, CONSUMERS,
	       CAPACITY);
	printf("produced %ld\n", produced);
	printf("consumed %ld\n", items);
	printf("sum %lld (expected %lld)\n", sum, (long long)ITEMS * (ITEMS + 1) / 2);
	printf("missing %ld, duplicates %ld\n", missing, duplicates);
	printf("per-producer order violations %ld\n", out_of_order);
	printf("queue empty at end: %s\n", count == 0 ? "yes" : "no");
	return items == ITEMS && missing == 0 && duplicates == 0 && out_of_order == 0 ? 0 : 1;
}
