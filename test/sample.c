/* sample.c - the bundled sample for `make demo`: a small "order processor"
 * whose worker thread crashes on an order that has no customer record (a
 * NULL dereference), the kind of crash a dump is taken for.
 * Prints "pid=<PID>" and "ready", then processes three orders. */
#include <windows.h>
#include <stdio.h>
#include <string.h>

struct customer {
	char name[32];
	int credit;
};

struct order {
	int id;
	int amount;
	struct customer *customer;   /* NULL for the third order */
};

static struct customer alice = { "alice", 500 };
static struct customer bob = { "bob", 80 };
static struct order orders[3] = { { 1001, 120, &alice }, { 1002, 60, &bob }, { 1003, 75, NULL } };

__attribute__((noinline)) static int
charge_customer(struct customer *c, int amount)
{
	if (c->credit < amount)          /* order 1003: c is NULL */
		return 0;
	c->credit -= amount;
	return 1;
}

__attribute__((noinline)) static DWORD WINAPI
process_orders(void *arg)
{
	int i;
	(void)arg;
	for (i = 0; i < 3; i++) {
		printf("order %d: %s\n", orders[i].id,
		       charge_customer(orders[i].customer, orders[i].amount) ? "charged" : "declined");
		Sleep(50);
	}
	return 0;
}

int
main(void)
{
	HANDLE worker;
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("pid=%lu\nready\n", GetCurrentProcessId());
	worker = CreateThread(NULL, 0, process_orders, NULL, 0, NULL);
	WaitForSingleObject(worker, INFINITE);
	printf("all orders processed\n");
	return 0;
}
