set pagination off
set confirm off
set width 0
set height 0
set print pretty off
info registers pc
set $i = 0
while $i < 40
  stepi
  printf "%d %08x %08x %08x\n", $i, $pc, $sp, $r0
  set $i = $i + 1
end
break add
continue
info registers r0 r1 pc
p $pc
stepi
x/3i $pc
p/x $lr
finish
delete
info threads
hbreak thumb_mul
continue
p/x $cpsr
stepi
x/2i $pc
p $pc
delete
break vfp_work
continue
p $d0
set $d1 = 2.5
p $d1
p $q0
set $q1 = $q0
p $d2
p $d3
p/x $fpscr
set $r5 = 0x1234abcd
p/x $r5
info registers r5
x/4xw &table
set {unsigned int}&table[2] = 0xcafef00d
x/4xw &table
p table
delete
break do_svc
continue
set $i = 0
while $i < 12
  stepi
  printf "%d %08x %08x %08x\n", $i, $pc, $lr, $cpsr
  set $i = $i + 1
end
delete
watch in_handler
continue
p in_handler
p/x $pc
bt 1
delete
rwatch scale
continue
p/x $pc
delete
awatch table[1]
continue
delete
monitor info status
monitor info registers
shell (sleep 2; kill -INT $PPID) &
continue
p $pc
x/i $pc
monitor info status
detach
