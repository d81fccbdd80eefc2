# The tag longjmp throws (LLVM's setjmp/longjmp lowering names it __c_longjmp; its
# payload is a pointer to {env, value}).  wasi-libc's runtime references it, some
# builds of it do not define it.
	.tagtype	__c_longjmp i32
	.globl	__c_longjmp
__c_longjmp:
