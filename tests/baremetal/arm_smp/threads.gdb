set pagination off
set confirm off
set scheduler-locking step
info threads
thread 2
x/i $pc
bt
stepi 4
x/i $pc
p/x $r4
p/x $sp
info threads
thread 1
x/i $pc
p/x $r4
stepi
x/i $pc
bt
thread 2
stepi
x/2i $pc
info threads
p $_thread
thread 3
