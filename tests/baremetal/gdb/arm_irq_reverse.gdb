set pagination off
set confirm off
break on_tick if n == 1
continue
echo ==A1\n
info registers
p ticks
p seen
p rx_count
delete
break on_echo
continue
echo ==B1\n
info registers
p ticks
p seen
p rx_count
p echoed
p/x rx_buf
p/x work
echo ==IRQ\n
break irq_entry
reverse-continue
printf "E %08x %08x\n", $pc, $cpsr
reverse-stepi
printf "E %08x %08x\n", $pc, $cpsr
reverse-stepi
printf "E %08x %08x\n", $pc, $cpsr
stepi
printf "E %08x %08x\n", $pc, $cpsr
stepi
printf "E %08x %08x\n", $pc, $cpsr
delete
echo ==WATCH\n
watch ticks
reverse-continue
p ticks
delete
break on_tick if n == 1
reverse-continue
echo ==A2\n
info registers
p ticks
p seen
p rx_count
delete
break on_echo
continue
echo ==B2\n
info registers
p ticks
p seen
p rx_count
p echoed
p/x rx_buf
p/x work
echo ==LIVE\n
delete
break on_tick
continue
p rx_count
p echoed
echo ==END\n
kill
