// The floor under "10,000 sleepers" with a thread per fiber: how long this machine takes to create
// 10,000 threads that only park (futex wait), with nothing else to do. greenfiber's in-thread
// backend needs one such donor thread per suspended fiber (its TCB), as issue 12's design requires.
//   cc -O2 -o /tmp/thread-create-floor scripts/thread-create-floor.c -lpthread && /tmp/thread-create-floor
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { kThreads = 10000 };
static uint32_t go = 0;

static void* Park(void* unused) {
  (void)unused;
  while (__atomic_load_n(&go, __ATOMIC_ACQUIRE) == 0) syscall(SYS_futex, &go, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
  return NULL;
}

int main(void) {
  static pthread_t threads[kThreads];
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (int i = 0; i < kThreads; i++) {
    if (pthread_create(&threads[i], &attr, Park, NULL) != 0) {
      fprintf(stderr, "pthread_create failed at %d\n", i);
      return 1;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  printf("{\"threads\":%d,\"createMs\":%.1f}\n", kThreads, (end.tv_sec - start.tv_sec) * 1e3 + (end.tv_nsec - start.tv_nsec) / 1e6);
  __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
  syscall(SYS_futex, &go, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
  for (int i = 0; i < kThreads; i++) pthread_join(threads[i], NULL);
  return 0;
}
