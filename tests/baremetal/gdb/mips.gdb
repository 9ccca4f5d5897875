set pagination off
set confirm off
set width 0
set height 0
info registers pc
break main
continue
set $i = 0
while $i < 30
  stepi
  printf "%d %08x %08x %08x\n", $i, $pc, $sp, $v0
  set $i = $i + 1
end
delete
break add
continue
info registers a0 a1 pc
p $pc
stepi
x/3i $pc
p/x $ra
finish
delete
info threads
hbreak fpu_work
continue
p $f12
p $f13
p/x $fsr
p/x $sr
p/x $cause & 0x7c
p/x $bad
p/x $hi
p/x $lo
set $s5 = 0x1234abcd
p/x $s5
x/4xw &table
set {unsigned int}&table[2] = 0xcafef00d
x/4xw &table
p table
delete
break *do_syscall
continue
delete
watch in_handler
continue
p in_handler
p/x $pc
delete
rwatch scale
continue
p/x $pc
delete
awatch table[1]
continue
delete
monitor info status
shell (sleep 2; kill -INT $PPID) &
continue
p $pc
x/i $pc
monitor info status
detach
