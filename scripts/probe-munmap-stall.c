// Probe: how long does freeing one large buffer stall another thread of the process?
//
// One thread maps, touches and unmaps 1 MiB over and over and reports the longest gap between
// two rounds; the main thread fills a buffer of SIZE MiB and frees it five times, either in
// one munmap (MODE 0) or after releasing its pages in 8 MiB madvise(MADV_DONTNEED) steps
// (MODE 1). Why meterd releases its snapshot buffer gradually (GradualRelease.swift).
//
//   clang -O2 -pthread scripts/probe-munmap-stall.c -o /tmp/probe-munmap-stall
//   /tmp/probe-munmap-stall 500 0; /tmp/probe-munmap-stall 500 1
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>
static volatile int stop = 0;
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e3+t.tv_nsec/1e6;}
static void* faulter(void*a){
  double maxgap=0; double last=now();
  while(!stop){
    char*p=mmap(0,1<<20,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
    for(int i=0;i<(1<<20);i+=4096)p[i]=1;
    munmap(p,1<<20);
    double t=now(); if(t-last>maxgap)maxgap=t-last; last=t;
    usleep(200);
  }
  printf("max gap between 1MiB fault rounds: %.2f ms\n",maxgap);
  return 0;}
int main(int argc,char**argv){
  size_t size=(size_t)atoi(argv[1])<<20; int mode=atoi(argv[2]);
  pthread_t t; pthread_create(&t,0,faulter,0);
  for(int r=0;r<5;r++){
    char*p=mmap(0,size,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
    memset(p,1,size);
    double a=now();
    if(mode==0) munmap(p,size);
    else { for(size_t o=0;o<size;o+=(8<<20)) madvise(p+o,8<<20,MADV_DONTNEED); munmap(p,size);}
    printf("free took %.1f ms\n",now()-a);
    usleep(300000);
  }
  stop=1; pthread_join(t,0); return 0;}
